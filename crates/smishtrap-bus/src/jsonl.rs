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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, Pipeline, PipelineConfig};

    fn event(n: usize) -> Event {
        Event {
            schema: smishtrap_event::SCHEMA_VERSION,
            id: format!("s-{n}"),
            ts: chrono::DateTime::UNIX_EPOCH,
            sensor: "t".into(),
            persona: "p".into(),
            session: "s".into(),
            src_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            src_port: 1,
            dst_port: 80,
            kind: smishtrap_event::EventKind::HttpRequest,
            // Hostile bytes must stay on their line: escapes, non-ASCII, separators.
            http: smishtrap_event::HttpRecord {
                path: format!("/\u{e9}\n\r\u{2028}\"{n}"),
                ..Default::default()
            },
            response_status: 200,
            auth: None,
            sms: None,
            tags: Vec::new(),
        }
    }

    /// Lines of the current file and the rotated segments, oldest first.
    fn lines(dir: &Path, keep: usize) -> Vec<String> {
        let mut files: Vec<PathBuf> =
            (1..=keep).rev().map(|n| dir.join(format!("events.jsonl.{n}"))).collect();
        files.push(JsonlSink::current_path(dir));
        let mut out = Vec::new();
        for file in files {
            if let Ok(text) = std::fs::read_to_string(&file) {
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "{} ends mid-line",
                    file.display()
                );
                out.extend(text.lines().map(str::to_owned));
            }
        }
        out
    }

    /// Through the pipeline (the publisher's JSON) and directly (the sink encodes): the same
    /// bytes, one event a line, in order, rotation never splitting a line.
    #[test]
    fn lines_are_the_events_json_in_commit_order() {
        let expect: Vec<String> =
            (0..40).map(|n| serde_json::to_string(&event(n)).unwrap_or_default()).collect();
        let piped = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let config = JsonlSinkConfig { dir: piped.path().to_owned(), max_bytes: 2048, keep: 100 };
        let sink = JsonlSink::open(config).unwrap_or_else(|e| panic!("{e}"));
        let primary = JsonlSink::open(JsonlSinkConfig {
            dir: piped.path().join("primary"),
            max_bytes: u64::MAX,
            keep: 1,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let (publisher, handle) = Pipeline::start(
            Box::new(primary),
            vec![Box::new(sink)],
            PipelineConfig { queue_capacity: 1024, max_batch: 3 },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rt =
            tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            for n in 0..40 {
                assert_eq!(publisher.record(event(n)).await, Outcome::Durable);
            }
        });
        drop(publisher);
        let stats = handle.join();
        assert_eq!((stats.secondary_dropped, stats.secondary_failures), (0, 0));
        assert_eq!(lines(&piped.path().join("primary"), 1), expect);
        assert_eq!(lines(piped.path(), 100), expect);
        assert!(piped.path().join("events.jsonl.2").exists(), "the test must rotate");

        let direct = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let config = JsonlSinkConfig { dir: direct.path().to_owned(), max_bytes: 2048, keep: 100 };
        let mut sink = JsonlSink::open(config).unwrap_or_else(|e| panic!("{e}"));
        let events: Vec<Event> = (0..40).map(event).collect();
        for chunk in events.chunks(3) {
            sink.write_batch(chunk).unwrap_or_else(|e| panic!("{e}"));
        }
        sink.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lines(direct.path(), 100), expect);
    }
}
