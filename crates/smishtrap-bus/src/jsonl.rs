use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
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
///
/// Invariant: the file holds only whole lines. A torn tail (a line cut by a full disk or a
/// crash) is cut off when the file is opened, and after a failed or short write the file is
/// truncated back to its last whole line before anything else is written, so a later line is
/// never glued to a broken one.
#[derive(Debug)]
pub struct JsonlSink {
    config: JsonlSinkConfig,
    out: File,
    /// Length of the current file up to its last whole line.
    size: u64,
    /// A write failed and the file may hold a partial batch past `size`.
    torn: bool,
    /// Bytes of torn lines cut off so far (on open and after failed writes).
    repaired_bytes: u64,
}

const NAME: &str = "jsonl";

/// How much of a file's end is read at a time while looking for its last newline.
const TAIL_CHUNK: u64 = 64 * 1024;

impl JsonlSink {
    pub fn open(config: JsonlSinkConfig) -> Result<JsonlSink, SinkError> {
        std::fs::create_dir_all(&config.dir).map_err(|e| SinkError::io(NAME, &e))?;
        let (out, size, cut) = open_current(&config.dir)?;
        Ok(JsonlSink { config, out, size, torn: false, repaired_bytes: cut })
    }

    pub fn current_path(dir: &Path) -> PathBuf {
        dir.join("events.jsonl")
    }

    /// Bytes of torn lines this sink cut off (on open and after failed writes).
    pub fn repaired_bytes(&self) -> u64 {
        self.repaired_bytes
    }

    fn rotate(&mut self) -> Result<(), SinkError> {
        let dir = &self.config.dir;
        let segment = |n: usize| dir.join(format!("events.jsonl.{n}"));
        if self.config.keep == 0 {
            std::fs::remove_file(Self::current_path(dir)).map_err(|e| SinkError::io(NAME, &e))?;
        } else {
            // Missing older segments are normal; only the final rename must succeed.
            let _ = std::fs::remove_file(segment(self.config.keep));
            for n in (1..self.config.keep).rev() {
                let _ = std::fs::rename(segment(n), segment(n + 1));
            }
            std::fs::rename(Self::current_path(dir), segment(1))
                .map_err(|e| SinkError::io(NAME, &e))?;
        }
        let (out, size, cut) = open_current(dir)?;
        self.out = out;
        self.size = size;
        self.repaired_bytes += cut;
        Ok(())
    }

    /// Cuts what a failed write left past the last whole line.
    fn cut_torn_tail(&mut self) -> Result<(), SinkError> {
        let len = self.out.metadata().map_err(|e| SinkError::io(NAME, &e))?.len();
        // Truncating frees space, so it works on a full disk too.
        self.out.set_len(self.size).map_err(|e| SinkError::io(NAME, &e))?;
        let cut = len.saturating_sub(self.size);
        if cut > 0 {
            self.repaired_bytes += cut;
            tracing::warn!(bytes = cut, "jsonl: cut a partly written batch after a failed write");
        }
        self.torn = false;
        Ok(())
    }

    /// Appends whole lines, rotating first when the current file is full.
    fn append(&mut self, lines: &[u8]) -> Result<(), SinkError> {
        if self.torn {
            self.cut_torn_tail()?;
        }
        if self.size >= self.config.max_bytes {
            self.rotate()?;
        }
        // One `write_all` of whole lines straight to the file (no user-space buffer that could
        // keep a failed half for the next call): the batch reaches the OS, so a killed process
        // loses nothing this sink took.
        if let Err(err) = self.out.write_all(lines) {
            self.torn = true;
            // Best effort now; if it fails, the next append cuts before writing.
            let _ = self.cut_torn_tail();
            return Err(SinkError::io(NAME, &err));
        }
        self.size += lines.len() as u64;
        Ok(())
    }
}

/// Opens (creating) the current file for appending, cutting a torn last line; returns the
/// file, its length and how many bytes were cut.
fn open_current(dir: &Path) -> Result<(File, u64, u64), SinkError> {
    let path = JsonlSink::current_path(dir);
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(|e| SinkError::io(NAME, &e))?;
    let len = file.metadata().map_err(|e| SinkError::io(NAME, &e))?.len();
    let whole = whole_lines_len(&mut file, len).map_err(|e| SinkError::io(NAME, &e))?;
    let cut = len - whole;
    if cut > 0 {
        file.set_len(whole).map_err(|e| SinkError::io(NAME, &e))?;
        tracing::warn!(
            file = %path.display(),
            bytes = cut,
            "jsonl: cut a torn last line (the disk was full or the process died mid-write)"
        );
    }
    Ok((file, whole, cut))
}

/// Length of the file up to and including its last newline (0 when it has none).
fn whole_lines_len(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; TAIL_CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
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
        if self.torn {
            self.cut_torn_tail()?;
        }
        self.out.sync_all().map_err(|e| SinkError::io(NAME, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, Pipeline, PipelineConfig};
    use smishtrap_testkit::TinyVolume;

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

    fn config(dir: &Path) -> JsonlSinkConfig {
        JsonlSinkConfig { dir: dir.to_owned(), max_bytes: u64::MAX, keep: 1 }
    }

    /// A file left as `before` is cut to `after` on open (`cut` bytes), and the next batch
    /// starts on a line of its own.
    #[track_caller]
    fn check_repair(before: &[u8], after: &[u8]) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = JsonlSink::current_path(dir.path());
        std::fs::write(&path, before).unwrap_or_else(|e| panic!("{e}"));
        let mut sink = JsonlSink::open(config(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sink.repaired_bytes(), (before.len() - after.len()) as u64);
        assert_eq!(std::fs::read(&path).unwrap_or_default(), after);
        sink.write_batch(&[event(7)]).unwrap_or_else(|e| panic!("{e}"));
        let mut expect = after.to_vec();
        expect.extend_from_slice(serde_json::to_string(&event(7)).unwrap_or_default().as_bytes());
        expect.push(b'\n');
        assert_eq!(std::fs::read(&path).unwrap_or_default(), expect);
    }

    #[test]
    fn a_torn_last_line_is_cut_on_open() {
        check_repair(b"", b"");
        check_repair(b"{\"a\":1}\n", b"{\"a\":1}\n");
        check_repair(b"{\"a\":1}\n{\"b\":", b"{\"a\":1}\n");
        check_repair(b"{\"half", b"");
        // A torn line longer than the chunk the tail is searched in.
        let mut long = b"{\"a\":1}\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 3 * TAIL_CHUNK as usize + 17));
        check_repair(&long, b"{\"a\":1}\n");
    }

    /// Fills the volume until a batch fails, frees space and writes again: the file holds
    /// only whole lines, each one event, and nothing of the failed batches.
    #[test]
    fn a_write_that_fails_on_a_full_disk_leaves_no_torn_line() {
        let Some(volume) = TinyVolume::mount(1024 * 1024) else { return };
        let dir = volume.path().join("events");
        let mut sink = JsonlSink::open(config(&dir)).unwrap_or_else(|e| panic!("{e}"));
        let path = JsonlSink::current_path(&dir);
        // Leaves less room than one batch, so the batch is cut mid-line.
        let filler = volume.path().join("filler");
        std::fs::write(&filler, vec![0u8; 1024 * 1024 - 64 * 1024]).ok();
        let batch: Vec<Event> = (0..100).map(event).collect();
        let mut written = Vec::new();
        let mut failures = 0;
        for round in 0..50 {
            match sink.write_batch(&batch) {
                Ok(()) => written.extend(batch.iter().map(|e| e.id.clone())),
                Err(err) => {
                    assert!(err.no_space, "{err}");
                    failures += 1;
                    let text = std::fs::read(&path).unwrap_or_default();
                    assert!(text.is_empty() || text.ends_with(b"\n"), "round {round}");
                }
            }
        }
        assert!(failures > 0, "the disk never filled");
        assert!(sink.repaired_bytes() > 0, "a failed batch was cut");
        std::fs::remove_file(&filler).unwrap_or_else(|e| panic!("{e}"));
        sink.write_batch(&[event(1000)]).unwrap_or_else(|e| panic!("{e}"));
        written.push(event(1000).id);
        sink.flush().unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<String> = lines(&dir, 0)
            .iter()
            .map(|line| {
                let e: Event = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                e.id
            })
            .collect();
        assert_eq!(ids, written);
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
