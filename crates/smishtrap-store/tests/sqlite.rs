//! The conformance suite against the SQLite backend.

mod common;
mod suite;

use std::path::PathBuf;

use smishtrap_store::{SqliteStore, StoreError, db_path};

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn path(&self) -> PathBuf {
        // a directory that does not exist yet: open must create it
        db_path(&self.dir.path().join("data"))
    }
}

impl suite::Backend for Sqlite {
    type Store = SqliteStore;

    fn new() -> Self {
        Sqlite { dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")) }
    }

    fn open(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::open(&self.path())
    }

    fn open_reader(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_read_only(&self.path())
    }

    fn open_unwritable(&self) -> Result<SqliteStore, StoreError> {
        // A regular file where a directory should be: fails even for root.
        let file = self.dir.path().join("a-file");
        std::fs::write(&file, b"x")
            .map_err(|source| StoreError::CreateDir { path: file.clone(), source })?;
        SqliteStore::open(&db_path(&file.join("data")))
    }
}

store_test_suite!(Sqlite);

#[test]
fn reading_a_missing_store_names_the_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = db_path(dir.path());
    let err = SqliteStore::open_read_only(&path).map(drop).err().map(|e| e.to_string());
    assert_eq!(err, Some(format!("no event store at {}", path.display())));
    assert!(!path.exists(), "a reader never creates a store");
}

#[test]
fn unwritable_path_error_names_the_directory() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
    let err =
        SqliteStore::open(&db_path(&file.join("data"))).map(drop).err().map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(
        err.starts_with(&format!("cannot create directory {}", file.join("data").display())),
        "{err}"
    );
}

/// The forward spool follows insertion order (not `ts`), strictly after the cursor, bounded.
#[test]
fn forward_spool_reads_in_commit_order_after_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(&db_path(dir.path())).unwrap();
    // committed out of timestamp order on purpose
    let events: Vec<_> = [("a", 30), ("b", 10), ("c", 20), ("d", 0)]
        .iter()
        .map(|(id, secs)| suite::event(id, *secs))
        .collect();
    store.insert_batch(&events).unwrap();
    let check = |after: i64, limit: usize, expect: &[&str]| {
        let got: Vec<String> =
            store.events_after(after, limit).unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(got, expect, "after {after} limit {limit}");
    };
    check(0, 10, &["a", "b", "c", "d"]);
    check(1, 2, &["b", "c"]);
    check(4, 10, &[]);
    assert_eq!(store.count_after(1).unwrap(), 3);
    assert_eq!(store.cursor(smishtrap_store::FORWARDED_CURSOR).unwrap(), 0);
}
