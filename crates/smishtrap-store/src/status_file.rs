//! The sensor's status file (`DIR/sensor-status.json`): its latest [`SensorStatus`], kept
//! outside the store so that a full or broken store cannot silence it.
//!
//! The file has a fixed size, allocated when it is created, and every update rewrites it in
//! place with one positioned write (JSON padded with spaces): an update needs no new disk
//! blocks, so it works on a full disk. A reader that catches a write halfway sees invalid
//! JSON and reads again.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use smishtrap_event::SensorStatus;

use crate::StoreError;

/// Size of the status file: room for a status with a few dozen listeners.
pub const STATUS_FILE_BYTES: usize = 8 * 1024;

/// The status file of a data directory.
pub fn status_path(data_dir: &Path) -> PathBuf {
    data_dir.join("sensor-status.json")
}

/// The writer's handle on the status file.
#[derive(Debug)]
pub struct StatusFile {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
}

impl StatusFile {
    /// Opens (creating) the file and gives it its full size with real bytes, so later updates
    /// never allocate.
    pub fn create(path: &Path) -> Result<StatusFile, StoreError> {
        let io = |operation: &'static str| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, operation, source }
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(io("open status file"))?;
        let len = file.metadata().map_err(io("read status file size"))?.len();
        if len != STATUS_FILE_BYTES as u64 {
            file.set_len(0).map_err(io("resize status file"))?;
            file.write_all(&blank()).map_err(io("allocate status file"))?;
            file.sync_all().map_err(io("allocate status file"))?;
        }
        Ok(StatusFile { file, path: path.to_owned(), buf: Vec::with_capacity(STATUS_FILE_BYTES) })
    }

    /// Rewrites the file in place. A status too large for the file loses listeners (the
    /// list ends with `…`) until it fits.
    pub fn write(&mut self, status: &SensorStatus) -> Result<(), StoreError> {
        let mut status = std::borrow::Cow::Borrowed(status);
        loop {
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, &*status).map_err(|source| {
                StoreError::Encode { path: self.path.clone(), id: status.sensor.clone(), source }
            })?;
            if self.buf.len() < STATUS_FILE_BYTES {
                break;
            }
            let listeners = &mut status.to_mut().listeners;
            let keep = listeners.len().saturating_sub(2);
            listeners.truncate(keep);
            listeners.push("…".to_owned());
            if keep == 0 {
                listeners.clear();
            }
        }
        self.buf.resize(STATUS_FILE_BYTES - 1, b' ');
        self.buf.push(b'\n');
        self.file.write_all_at(&self.buf, 0).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            operation: "write status file",
            source,
        })
    }
}

fn blank() -> Vec<u8> {
    let mut bytes = vec![b' '; STATUS_FILE_BYTES - 1];
    bytes.push(b'\n');
    bytes
}

/// The status in the file, `None` when there is no file or it was never written.
pub fn read_status_file(path: &Path) -> Result<Option<SensorStatus>, StoreError> {
    let mut attempt = 0;
    loop {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.to_owned(),
                    operation: "read status file",
                    source,
                });
            }
        };
        let text = bytes.get(..STATUS_FILE_BYTES.min(bytes.len())).unwrap_or_default();
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<SensorStatus>(text.trim_ascii()) {
            Ok(status) => return Ok(Some(status)),
            Err(source) if attempt >= 2 => {
                return Err(StoreError::BadStatus { path: path.to_owned(), source });
            }
            // Caught mid-write: read again.
            Err(_) => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smishtrap_event::{Degraded, Health};

    fn status(listeners: usize) -> SensorStatus {
        let now = chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        SensorStatus {
            sensor: "s1".into(),
            listeners: (0..listeners).map(|i| format!("milesight-ur32l@127.0.0.1:{i}")).collect(),
            started_at: now,
            updated_at: now,
            events_recorded: 10,
            events_not_recorded: 3,
            stopped: false,
            health: Health::from_reasons(vec![Degraded::StoreFull, Degraded::LowDisk]),
            fleet: None,
        }
    }

    #[test]
    fn the_file_keeps_its_size_and_reads_back_the_last_status() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = status_path(dir.path());
        assert!(read_status_file(&path).unwrap_or_else(|e| panic!("{e}")).is_none());
        let mut file = StatusFile::create(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(read_status_file(&path).unwrap_or_else(|e| panic!("{e}")).is_none());
        for n in [3, 0, 1] {
            file.write(&status(n)).unwrap_or_else(|e| panic!("{e}"));
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or_default();
            assert_eq!(len, STATUS_FILE_BYTES as u64);
            let back = read_status_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, Some(status(n)));
        }
        // Reopening keeps the content.
        drop(StatusFile::create(&path).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(read_status_file(&path).ok().flatten(), Some(status(1)));
    }

    #[test]
    fn too_many_listeners_are_cut_to_fit() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = status_path(dir.path());
        let mut file = StatusFile::create(&path).unwrap_or_else(|e| panic!("{e}"));
        file.write(&status(1000)).unwrap_or_else(|e| panic!("{e}"));
        let back = read_status_file(&path).ok().flatten().unwrap_or_else(|| status(0));
        assert!(back.listeners.len() > 10 && back.listeners.len() < 1000);
        assert_eq!(back.listeners.last().map(String::as_str), Some("…"));
        assert_eq!(back.health, status(0).health);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = status_path(dir.path());
        std::fs::write(&path, b"{\"sensor\":").unwrap_or_else(|e| panic!("{e}"));
        let err = read_status_file(&path).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("sensor-status.json"), "{err}");
    }
}
