//! The conformance suite against the SQLite backend.

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
