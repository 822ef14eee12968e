//! `kill -9` of a process writing through the bus into the SQLite store loses no event whose
//! `record` was acknowledged. The child is this test binary re-invoked with an environment
//! variable; it prints each acknowledged id, the parent SIGKILLs it mid-run and checks them.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::Utc;
use smishtrap_bus::{Outcome, Pipeline, PipelineConfig};
use smishtrap_event::{BodyEncoding, Event, EventKind, HttpRecord, SCHEMA_VERSION, body_digest};
use smishtrap_store::{EventFilter, SqliteStore, db_path};

const CHILD_ENV: &str = "SMISHTRAP_DURABILITY_CHILD_DIR";
/// Acknowledgements the parent waits for before killing the child.
const KILL_AFTER: usize = 3_000;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn event(id: String) -> Event {
    let body = format!("{{\"id\":\"{id}\",\"core\":\"yruo_sms\",\"function\":\"send_sms\"}}");
    Event {
        schema: SCHEMA_VERSION,
        id,
        ts: Utc::now(),
        sensor: "durability".into(),
        persona: "milesight-ur32l".into(),
        session: "c1".into(),
        src_ip: IpAddr::from([127, 0, 0, 1]),
        src_port: 40_000,
        dst_port: 8080,
        kind: EventKind::HttpRequest,
        http: HttpRecord {
            method: "POST".into(),
            path: "/cgi".into(),
            query: None,
            version: "HTTP/1.1".into(),
            headers: vec![("Host".into(), "127.0.0.1".into())],
            body_len: body.len() as u64,
            body_sha256: body_digest(body.as_bytes()),
            body,
            body_encoding: BodyEncoding::Utf8,
            body_truncated: false,
        },
        response_status: 200,
        auth: None,
        sms: None,
        tags: Vec::new(),
    }
}

/// The child's work: many concurrent publishers, each printing `ACK <id>` once its event is
/// durable, until killed (or a safety cap, so a broken parent cannot leave it running).
fn write_until_killed(dir: &Path) {
    let store = ok(SqliteStore::open(&db_path(dir)));
    let (publisher, _handle) = ok(Pipeline::start(
        Box::new(store),
        Vec::new(),
        PipelineConfig { queue_capacity: 1024, max_batch: 256 },
    ));
    let rt = ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).build());
    rt.block_on(async {
        let mut tasks = Vec::new();
        for task in 0..32 {
            let publisher = publisher.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..20_000 {
                    let id = format!("t{task}-{n}");
                    if publisher.record(event(id.clone())).await == Outcome::Durable {
                        // Straight to the fd (not the test harness' capture), flushed per line.
                        let mut out = std::io::stdout().lock();
                        ok(writeln!(out, "ACK {id}"));
                        ok(out.flush());
                    }
                }
            }));
        }
        for task in tasks {
            ok(task.await);
        }
    });
}

/// Entry point of the child process; does nothing in a normal test run.
#[test]
fn durability_child_process() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        write_until_killed(Path::new(&dir));
    }
}

#[test]
fn kill_9_loses_no_acknowledged_event() {
    let dir = ok(tempfile::tempdir());
    let mut child = ok(Command::new(ok(std::env::current_exe()))
        .args(["durability_child_process", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("child has no stdout"));
    let mut acked = HashSet::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = ok(line);
        if let Some(id) = line.strip_prefix("ACK ") {
            acked.insert(id.to_owned());
        }
        if !killed && acked.len() >= KILL_AFTER {
            ok(child.kill()); // SIGKILL on Unix
            killed = true;
        }
    }
    let status = ok(child.wait());
    assert!(killed, "child ended before {KILL_AFTER} acknowledgements: {status:?}");
    assert!(!status.success(), "child was killed, not finished: {status:?}");

    // Reopen like a restarted sensor would (WAL recovery), then as a reader.
    let writer = ok(SqliteStore::open(&db_path(dir.path())));
    let stored: HashSet<String> =
        ok(writer.events(&EventFilter::default())).map(|e| ok(e).id).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());
    assert!(stored.len() >= acked.len());
    drop(writer);
    let reader = ok(SqliteStore::open_read_only(&db_path(dir.path())));
    assert_eq!(ok(reader.count_events(&EventFilter::default())), stored.len() as u64);
}
