//! A fresh PostgreSQL schema per test, dropped when the test ends.

use std::sync::atomic::{AtomicU64, Ordering};

/// `SMISHTRAP_TEST_POSTGRES`, or the local server with trust auth.
pub fn conninfo() -> String {
    std::env::var("SMISHTRAP_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into())
}

/// A schema name of its own (`PREFIX_<pid>_<nanos>_<n>`), dropped with everything in it on
/// drop. Nothing creates it: the store under test does.
#[derive(Debug)]
pub struct Schema(pub String);

impl Schema {
    pub fn new(prefix: &str) -> Schema {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Schema(format!("{prefix}_{}_{nanos}_{n}", std::process::id()))
    }

    /// A client whose `search_path` is this schema.
    pub fn client(&self) -> postgres::Client {
        let mut client = postgres::Client::connect(&conninfo(), postgres::NoTls).unwrap();
        client.batch_execute(&format!("SET search_path TO \"{}\"", self.0)).unwrap();
        client
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0);
        // on a thread of its own: the blocking client must not run on an async runtime's thread
        std::thread::scope(|s| {
            s.spawn(|| {
                if let Ok(mut client) = postgres::Client::connect(&conninfo(), postgres::NoTls) {
                    let _ = client.batch_execute(&sql);
                }
            });
        });
    }
}
