//! Start the real `smishtrap console` (or `smishtrap run`) binary on ephemeral loopback ports.

#![allow(dead_code, unreachable_pub, reason = "test helpers shared by several test binaries")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_smishtrap");

#[derive(Debug)]
pub struct ConsoleProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The `log in:` line of the start-up banner.
    pub login_line: String,
    pub stderr: Arc<Mutex<String>>,
    /// The first sensor listener (`run` only).
    pub sensor: Option<SocketAddr>,
}

impl ConsoleProcess {
    /// Starts `smishtrap console --data DIR --listen 127.0.0.1:0 ARGS` and waits for its banner.
    pub fn start(data: &Path, args: &[&str]) -> ConsoleProcess {
        let mut all = vec!["console", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        ConsoleProcess::spawn(data, &all)
    }

    /// Starts `smishtrap run --data DIR` with sensor and console on ephemeral ports.
    pub fn run(data: &Path, args: &[&str]) -> ConsoleProcess {
        let mut all =
            vec!["run", "--sensor-listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        ConsoleProcess::spawn(data, &all)
    }

    /// Like [`Self::run`], with the binary started through `prefix` (e.g. `prlimit --nofile=N:N`).
    pub fn run_under(prefix: &[&str], data: &Path, args: &[&str]) -> ConsoleProcess {
        let mut all = prefix.to_vec();
        all.extend_from_slice(&[
            BIN,
            "run",
            "--sensor-listen",
            "127.0.0.1:0",
            "--console-listen",
            "127.0.0.1:0",
        ]);
        all.extend_from_slice(args);
        ConsoleProcess::spawn_program(all[0], data, &all[1..])
    }

    fn spawn(data: &Path, args: &[&str]) -> ConsoleProcess {
        ConsoleProcess::spawn_program(BIN, data, args)
    }

    fn spawn_program(program: &str, data: &Path, args: &[&str]) -> ConsoleProcess {
        let mut child = Command::new(program)
            .args(args)
            .arg("--data")
            .arg(data)
            .env("SMISHTRAP_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn console");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut addr = None;
            let mut sensor = None;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("listening on ") {
                    sensor = sensor.or(rest
                        .split_whitespace()
                        .next()
                        .and_then(|a| a.parse::<SocketAddr>().ok()));
                }
                if let Some(rest) = line.strip_prefix("console listening on http://") {
                    addr = rest.trim_end_matches('/').parse::<SocketAddr>().ok();
                }
                if line.starts_with("log in: ") {
                    let _ = tx.send((addr, sensor, line.clone()));
                }
                sink.lock().map(|mut s| s.push_str(&(line + "\n"))).ok();
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((Some(addr), sensor, login_line)) => {
                ConsoleProcess { child, addr, login_line, stderr: log, sensor }
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "console did not start; stderr:\n{}",
                    log.lock().map(|s| s.clone()).unwrap_or_default()
                );
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then the exit code (None if it had to be killed).
    pub fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ConsoleProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
