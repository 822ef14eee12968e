//! The conformance suite against PostgreSQL (cargo feature `postgres`).
//!
//! Needs a server: `SMISHTRAP_TEST_POSTGRES` (libpq conninfo), default
//! `host=127.0.0.1 port=5432 user=postgres dbname=postgres` (trust auth). Each test works in
//! its own schema with a random name, dropped afterwards.
//! Run: `cargo test -p smishtrap-store --features postgres --test postgres`.

#![cfg(feature = "postgres")]

mod suite;

use std::sync::atomic::{AtomicU64, Ordering};

use smishtrap_store::{PostgresStore, StoreError};

fn conninfo() -> String {
    std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into())
}

struct Postgres {
    schema: String,
}

impl suite::Backend for Postgres {
    type Store = PostgresStore;

    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let schema = format!(
            "smishtrap_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Postgres { schema }
    }

    fn open(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(&conninfo(), &self.schema)
    }

    fn open_reader(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_read_only(&conninfo(), &self.schema)
    }

    fn open_unwritable(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(
            &format!("{} dbname=smishtrap_no_such_database", conninfo()),
            &self.schema,
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&conninfo(), postgres::NoTls) {
            let _ =
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema));
        }
    }
}

store_test_suite!(Postgres);

#[test]
fn reading_a_missing_schema_is_not_found() {
    let err = PostgresStore::open_read_only(&conninfo(), "smishtrap_never_created")
        .map(drop)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("no event store at postgres://127.0.0.1:5432/"), "{err}");
}

#[test]
fn hostile_schema_name_is_refused() {
    let err = PostgresStore::open(&conninfo(), "x\"; DROP SCHEMA public; --")
        .map(drop)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("cannot select schema in postgres store"), "{err}");
}
