//! Fault test: a flood of `send_sms` against `smishtrap sensor` and `smishtrap run` whose data
//! directory sits on a 20 MiB tmpfs that fills up. Checks the promise that a success answer
//! means a stored event (answered 200 == stored), that health turns degraded within seconds
//! and says why (status file, `/healthz`, `/api/v1/health`), that the sensor answers like a
//! busy device meanwhile, and that it records and answers again once space is freed, without
//! a restart. Needs root for the mount; skipped with a printed reason otherwise.

#![allow(clippy::print_stderr, reason = "the skip reason and the measured figures are the output")]

mod console_support;
mod sensor_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use console_support::ConsoleProcess;
use sensor_support::Sensor;
use smishtrap_event::{Degraded, SensorStatus};
use smishtrap_testkit::TinyVolume;

/// One flood at a time: they share two cores and the timings should mean something.
static SERIAL: Mutex<()> = Mutex::new(());

const TOKEN: &str = "disk-full-test-token-0123456789";
const MIB: u64 = 1024 * 1024;

/// Sensor config: loopback listener, no rate limit (this is a flood on purpose), explicit
/// watermarks so the test knows where refusing starts.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("sensor.toml");
    std::fs::write(
        &path,
        format!(
            "[[listener]]\nlisten = \"127.0.0.1:0\"\npersona = \"milesight-ur32l\"\n\n\
             [limits]\nrequests_per_second = 1000000\nrequest_burst = 1000000\n\n\
             [storage]\nmin_free_bytes = {}\nwarn_free_bytes = {}\n",
            2 * MIB,
            6 * MIB
        ),
    )
    .expect("write config");
    path
}

fn status(data: &Path) -> Option<SensorStatus> {
    smishtrap_store::read_status_file(&smishtrap_store::status_path(data)).ok().flatten()
}

/// Polls `probe` every 20 ms until it holds or `limit` passes; returns how long it took.
fn wait_for(limit: Duration, mut probe: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if probe() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A keep-alive HTTP/1.1 client that reconnects when the sensor closes.
struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client { addr, conn: None }
    }

    /// Sends one `send_sms`; the status and body, or `None` on a broken connection.
    fn send_sms(&mut self, n: u64) -> Option<(u16, Vec<u8>)> {
        let body = format!(
            r#"{{"id":"{n}","execute":1,"function":"send_sms","values":[{{"base":"api_sms","phone_number":"+3247{n:07}","content":"Uw pakket wacht: hxxps://example[.]invalid/{n}"}}]}}"#
        );
        let request = format!(
            "POST /cgi HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let result = self.exchange(request.as_bytes());
        if result.is_none() {
            self.conn = None;
        }
        result
    }

    fn exchange(&mut self, request: &[u8]) -> Option<(u16, Vec<u8>)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
            stream.set_nodelay(true).ok()?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut()?;
        conn.get_mut().write_all(request).ok()?;
        let mut line = String::new();
        conn.read_line(&mut line).ok()?;
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            conn.read_line(&mut line).ok()?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':')?;
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
            if name.eq_ignore_ascii_case("connection") && value.trim() == "close" {
                close = true;
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).ok()?;
        if close {
            self.conn = None;
        }
        Some((status, body))
    }
}

/// Answers the flood got: counts by status, when the first non-200 came.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
    broken: AtomicU64,
    next: AtomicU64,
    first_busy: Mutex<Option<Instant>>,
    busy_page_ok: AtomicBool,
}

/// Floods `addr` from `clients` connections until `stop` turns true (or 40 s pass).
fn flood(addr: SocketAddr, clients: usize, tally: &Arc<Tally>, stop: &Arc<AtomicBool>) {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let tally = tally.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut client = Client::new(addr);
                let start = Instant::now();
                while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(40) {
                    let n = tally.next.fetch_add(1, Ordering::Relaxed);
                    match client.send_sms(n) {
                        Some((200, _)) => tally.ok.fetch_add(1, Ordering::Relaxed),
                        Some((503, body)) => {
                            let mut first = tally.first_busy.lock().expect("lock");
                            first.get_or_insert_with(Instant::now);
                            let page = String::from_utf8_lossy(&body);
                            if page.contains("503 Service Temporarily Unavailable") {
                                tally.busy_page_ok.store(true, Ordering::Relaxed);
                            }
                            tally.busy.fetch_add(1, Ordering::Relaxed)
                        }
                        Some(_) => tally.other.fetch_add(1, Ordering::Relaxed),
                        None => tally.broken.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("flood thread");
    }
}

/// What one disk-full run measured.
#[derive(Debug)]
struct Figures {
    answered_ok: u64,
    answered_busy: u64,
    /// From the first busy answer to health saying `store-full` (zero when health said it
    /// first: the watermark refuses before any request is turned away).
    degraded_after: Duration,
    /// From deleting the filler to health `ok` again.
    recovered_after: Duration,
}

/// The flood on a full volume, then recovery; `health_says_full` is how the test reads
/// health from outside (status file for `sensor`, HTTP for `run`).
fn fill_flood_and_recover(
    volume: &TinyVolume,
    data: &Path,
    addr: SocketAddr,
    health_says_full: &dyn Fn() -> bool,
    health_says_ok: &dyn Fn() -> bool,
) -> Figures {
    // The sensor starts healthy, then the volume is filled to 5 MiB from the end: still
    // over the refuse watermark (2 MiB), under the warning one (6 MiB).
    assert!(wait_for(Duration::from_secs(10), health_says_ok).is_some(), "healthy at start");
    let filler = volume.path().join("filler");
    let fill = volume.free().saturating_sub(5 * MIB);
    std::fs::write(&filler, vec![0u8; usize::try_from(fill).expect("size")]).expect("filler");
    assert!(
        wait_for(Duration::from_secs(5), || status(data)
            .is_some_and(|s| s.health.reasons().contains(&Degraded::LowDisk)))
        .is_some(),
        "low-disk shows"
    );

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let degraded_at: Mutex<Option<Instant>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let flooding = scope.spawn(|| flood(addr, 8, &tally, &stop));
        // Health is watched while the flood runs; the flood ends 2 s after the first busy
        // answer (or when 30 s pass).
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if degraded_at.lock().expect("lock").is_none() && health_says_full() {
                *degraded_at.lock().expect("lock") = Some(Instant::now());
            }
            let first = *tally.first_busy.lock().expect("lock");
            if first.is_some_and(|t| t.elapsed() > Duration::from_secs(2))
                && degraded_at.lock().expect("lock").is_some()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        flooding.join().expect("flood");
    });
    let first_busy = tally.first_busy.lock().expect("lock").expect("the disk filled up");
    let degraded_at = degraded_at.lock().expect("lock").expect("health said store-full");
    assert!(tally.busy_page_ok.load(Ordering::Relaxed), "the persona's busy page was sent");
    assert_eq!(tally.other.load(Ordering::Relaxed), 0, "only 200 and 503 answers");
    assert_eq!(tally.broken.load(Ordering::Relaxed), 0, "no connection broke");

    // Space comes back: health turns ok and sends are answered and stored again. When the
    // JSONL copy also hit the full volume, health says `sink-errors` for its 30 s hold
    // (`cmd/health.rs`), so ok may take that long.
    std::fs::remove_file(&filler).expect("remove filler");
    let recovered_after = wait_for(Duration::from_secs(40), health_says_ok)
        .unwrap_or_else(|| panic!("health ok after space freed (status: {:?})", status(data)));
    let mut client = Client::new(addr);
    for n in 0..50 {
        let (status, _) = client.send_sms(1_000_000 + n).expect("answer after recovery");
        assert_eq!(status, 200, "answered again without a restart");
        tally.ok.fetch_add(1, Ordering::Relaxed);
    }
    Figures {
        answered_ok: tally.ok.load(Ordering::Relaxed),
        answered_busy: tally.busy.load(Ordering::Relaxed),
        degraded_after: degraded_at.saturating_duration_since(first_busy),
        recovered_after,
    }
}

/// SIGTERM, then the exit code.
fn stop(child: &mut Child) -> Option<i32> {
    sensor_support::signal(child, libc::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

/// Stored events equal the 200 answers, and the JSONL log holds only whole event lines.
fn check_stored(data: &Path, figures: &Figures) {
    let events = sensor_support::events(data);
    let sends = events.iter().filter(|e| e["kind"] == "sms.send").count() as u64;
    assert_eq!(
        (events.len() as u64, sends),
        (figures.answered_ok, figures.answered_ok),
        "every 200 is a stored sms.send and nothing else was stored: {figures:?}"
    );
    let jsonl =
        std::fs::read(smishtrap_store::events_dir(data).join("events.jsonl")).expect("jsonl log");
    assert!(jsonl.is_empty() || jsonl.ends_with(b"\n"), "no torn last line");
    for line in jsonl.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(line).expect("every JSONL line is an event");
    }
}

#[test]
fn sensor_on_a_full_disk_never_answers_what_it_did_not_store() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(volume) = TinyVolume::mount(20 * MIB) else { return };
    let conf = tempfile::tempdir().expect("tempdir");
    let data = volume.path().join("data");
    let mut sensor =
        Sensor::start_with(&data, &["--config", &config(conf.path()).display().to_string()], 1);
    let full = || status(&data).is_some_and(|s| s.health.reasons().contains(&Degraded::StoreFull));
    let ok = || status(&data).is_some_and(|s| s.health.is_ok());
    let figures = fill_flood_and_recover(&volume, &data, sensor.addr(), &full, &ok);
    let code = stop(&mut sensor.child);
    let log = sensor.stderr.lock().expect("lock").clone();
    assert_eq!(code, Some(3), "exit status says events were not recorded; stderr:\n{log}");
    assert!(log.contains("store-full"), "the log says why: {log}");
    let last = status(&data).expect("last status");
    assert!(last.stopped && last.events_recorded == figures.answered_ok, "{last:?}");
    check_stored(&data, &figures);
    eprintln!(
        "sensor disk-full figures: answered 200 = stored = {}, answered 503 = {}, health \
         degraded {:?} after the first 503, ok {:?} after space was freed",
        figures.answered_ok, figures.answered_busy, figures.degraded_after, figures.recovered_after
    );
    assert!(figures.degraded_after < Duration::from_secs(3), "{figures:?}");
}

#[test]
fn run_on_a_full_disk_never_answers_what_it_did_not_store_and_the_console_says_why() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(volume) = TinyVolume::mount(20 * MIB) else { return };
    let conf = tempfile::tempdir().expect("tempdir");
    let data = volume.path().join("data");
    let config = config(conf.path()).display().to_string();
    let mut run = ConsoleProcess::run(&data, &["--config", &config, "--console-token", TOKEN]);
    let sensor = run.sensor.expect("sensor address");
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let healthz = |expect_full: bool| {
        let Ok(response) = http.get(run.url("/healthz")).send() else { return false };
        let code = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        if expect_full {
            code == 503 && text.starts_with("degraded:") && text.contains("store-full")
        } else {
            code == 200 && text == "ok\n"
        }
    };
    let full = || healthz(true);
    let ok = || healthz(false);
    let figures = fill_flood_and_recover(&volume, &data, sensor, &full, &ok);
    let api: serde_json::Value = http
        .get(run.url("/api/v1/health"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.json())
        .expect("api health");
    assert_eq!(api["status"], "ok", "{api}");
    assert_eq!(api["sensor"]["health"]["status"], "ok", "{api}");
    let code = stop(&mut run.child);
    assert_eq!(code, Some(3), "exit status says events were not recorded");
    check_stored(&data, &figures);
    eprintln!(
        "run disk-full figures: answered 200 = stored = {}, answered 503 = {}, /healthz \
         degraded {:?} after the first 503, ok {:?} after space was freed",
        figures.answered_ok, figures.answered_busy, figures.degraded_after, figures.recovered_after
    );
    assert!(figures.degraded_after < Duration::from_secs(3), "{figures:?}");
}
