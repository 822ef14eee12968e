use std::path::PathBuf;

/// Why a store operation failed. Every variant names the store (path or backend location).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no event store at {}", path.display())]
    NotFound { path: PathBuf },

    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "event store {} has schema version {found}, newer than the {supported} this smishtrap \
         understands; upgrade smishtrap",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },

    #[error(
        "event store {} has schema version {found}, older than {supported}; open it once with a \
         writer (the sensor) to migrate it",
        path.display()
    )]
    OlderSchema { path: PathBuf, found: i64, supported: i64 },

    #[error("cannot {operation} in {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    #[error("cannot encode event {id} for {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        id: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("stored event at row {row} of {} is not a valid event: {source}", path.display())]
    Decode {
        path: PathBuf,
        row: i64,
        #[source]
        source: serde_json::Error,
    },

    #[error("{} is not a valid sensor status: {source}", path.display())]
    BadStatus {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("cannot {operation} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "data directory {} is in use by another smishtrap process{}; stop it first or give \
         another --data directory",
        dir.display(),
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked { dir: PathBuf, pid: Option<u32> },

    /// A failure of a backend other than SQLite (`location` is its address, never a secret).
    #[error("cannot {operation} in {backend} store {location}: {message}")]
    Backend { backend: &'static str, location: String, operation: &'static str, message: String },
}

impl StoreError {
    /// Whether the failure was a full disk (SQLite's `SQLITE_FULL`, or `ENOSPC`/`EDQUOT`): the
    /// store takes writes again once space is freed.
    pub fn is_no_space(&self) -> bool {
        match self {
            StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(err, _), .. } => {
                err.code == rusqlite::ErrorCode::DiskFull
            }
            StoreError::Io { source, .. } | StoreError::CreateDir { source, .. } => {
                smishtrap_bus::is_no_space(source)
            }
            _ => false,
        }
    }
}
