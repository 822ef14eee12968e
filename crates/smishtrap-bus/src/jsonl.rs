use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use smishtrap_event::Event;

use crate::{EncodedBatch, Sink, SinkError};

#[derive(Debug, Clone)]
pub struct JsonlSinkConfig {
    /// Directory holding `events.jsonl` and its rotated segments.
    pub dir: PathBuf,
    /// Size after which the current file is rotated.
    pub max_bytes: u64,
    /// Rotated segments kept (`events.jsonl.1` is the newest); older ones are deleted.
    pub keep: usize,
}

/// Append-only JSONL file, one event a line, rotated by size between batches so a line is
/// never split across files.
#[derive(Debug)]
pub struct JsonlSink {
    config: JsonlSinkConfig,
    out: BufWriter<File>,
    size: u64,
}

const NAME: &str = "jsonl";

impl JsonlSink {
    pub fn open(config: JsonlSinkConfig) -> Result<JsonlSink, SinkError> {
        std::fs::create_dir_all(&config.dir).map_err(|e| SinkError::new(NAME, e))?;
        let (out, size) = open_current(&config.dir)?;
        Ok(JsonlSink { config, out, size })
    }

    pub fn current_path(dir: &Path) -> PathBuf {
        dir.join("events.jsonl")
    }

    fn rotate(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| SinkError::new(NAME, e))?;
        let dir = &self.config.dir;
        let segment = |n: usize| dir.join(format!("events.jsonl.{n}"));
        if self.config.keep == 0 {
            std::fs::remove_file(Self::current_path(dir)).map_err(|e| SinkError::new(NAME, e))?;
        } else {
            // Missing older segments are normal; only the final rename must succeed.
            let _ = std::fs::remove_file(segment(self.config.keep));
            for n in (1..self.config.keep).rev() {
                let _ = std::fs::rename(segment(n), segment(n + 1));
            }
            std::fs::rename(Self::current_path(dir), segment(1))
                .map_err(|e| SinkError::new(NAME, e))?;
        }
        let (out, size) = open_current(dir)?;
        self.out = out;
        self.size = size;
        Ok(())
    }
}

impl JsonlSink {
    /// Appends whole lines, rotating first when the current file is full.
    fn append(&mut self, lines: &[u8]) -> Result<(), SinkError> {
        if self.size >= self.config.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(lines).map_err(|e| SinkError::new(NAME, e))?;
        // Hand the batch to the OS so a killed process loses nothing this sink took.
        self.out.flush().map_err(|e| SinkError::new(NAME, e))?;
        self.size += lines.len() as u64;
        Ok(())
    }
}

fn open_current(dir: &Path) -> Result<(BufWriter<File>, u64), SinkError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(JsonlSink::current_path(dir))
        .map_err(|e| SinkError::new(NAME, e))?;
    let size = file.metadata().map_err(|e| SinkError::new(NAME, e))?.len();
    Ok((BufWriter::with_capacity(256 * 1024, file), size))
}

impl Sink for JsonlSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
        let mut buf = Vec::with_capacity(events.len() * 1024);
        for event in events {
            serde_json::to_writer(&mut buf, event).map_err(|e| SinkError::new(NAME, e))?;
            buf.push(b'\n');
        }
        self.append(&buf)
    }

    /// Writes the JSON the publisher encoded; this sink never encodes an event again.
    fn write_encoded(&mut self, batch: EncodedBatch<'_>) -> Result<(), SinkError> {
        let mut buf = Vec::with_capacity(batch.json().iter().map(|j| j.len() + 1).sum());
        for json in batch.json() {
            buf.extend_from_slice(json.as_bytes());
            buf.push(b'\n');
        }
        self.append(&buf)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| SinkError::new(NAME, e))?;
        self.out.get_ref().sync_all().map_err(|e| SinkError::new(NAME, e))
    }
}
