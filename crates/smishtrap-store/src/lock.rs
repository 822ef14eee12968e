//! The data directory's lock: one writing process (`run`, or a command catching the store
//! up) per directory, so two never interleave analysis and clustering on one store.
//!
//! An advisory `flock` on `DIR/smishtrap.lock`, which holds the owner's pid for the error
//! message. The kernel drops the lock when the process ends, even by `kill -9`, so a stale
//! file never locks anyone out.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use crate::StoreError;

/// The lock file inside a data directory (`DIR/smishtrap.lock`).
pub fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("smishtrap.lock")
}

/// Held for as long as this value lives.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

impl DataLock {
    /// Takes the lock of `data_dir` (creating the directory), or fails at once with
    /// [`StoreError::Locked`] naming the directory and the holder's pid.
    pub fn acquire(data_dir: &Path) -> Result<DataLock, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::CreateDir { path: data_dir.to_owned(), source })?;
        let path = lock_path(data_dir);
        let io = |operation: &'static str| {
            let path = path.clone();
            move |source: std::io::Error| StoreError::Io { path, operation, source }
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open the lock file"))?;
        if let Err(err) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if err == rustix::io::Errno::WOULDBLOCK {
                // the holder's pid: a few digits, read bounded
                let mut text = String::new();
                let _ = (&file).take(32).read_to_string(&mut text);
                return Err(StoreError::Locked {
                    dir: data_dir.to_owned(),
                    pid: text.trim().parse().ok(),
                });
            }
            return Err(io("lock")(err.into()));
        }
        file.set_len(0).map_err(io("write the lock file"))?;
        file.rewind().map_err(io("write the lock file"))?;
        writeln!(file, "{}", std::process::id()).map_err(io("write the lock file"))?;
        file.flush().map_err(io("write the lock file"))?;
        Ok(DataLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_dir_and_pid_until_the_first_drops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DataLock::acquire(dir.path()).expect("first lock");
        // flock locks belong to the open file description: a second open conflicts even in
        // one process, as another process would
        let err = DataLock::acquire(dir.path()).expect_err("second lock refused").to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(first);
        DataLock::acquire(dir.path()).expect("free again after drop");
    }
}
