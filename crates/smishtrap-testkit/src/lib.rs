//! Helpers shared by the integration tests of several crates (a dev-dependency only): a real
//! `nats-server -js` on a loopback port ([`Nats`]) and a fresh PostgreSQL schema per test
//! ([`Schema`]), and a small tmpfs to fill ([`TinyVolume`]), so each launcher and guard
//! exists once.
//!
//! PostgreSQL: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres` (trust auth). NATS:
//! `SMISHTRAP_NATS_SERVER` or `/usr/sbin/nats-server` (Debian package `nats-server`, which
//! `.ci/run` installs); a missing server fails the test, it is not skipped.
//!
//! Invariant: this crate never depends on another smishtrap crate (any of them may use it).

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod nats;
mod postgres_schema;
mod volume;

use std::net::TcpListener;
use std::time::{Duration, Instant};

pub use nats::{Nats, nats_bin};
pub use postgres_schema::{Schema, conninfo};
pub use volume::TinyVolume;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `done` every 50 ms; fails the test after `secs`.
pub fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
