//! Shared helpers for the sensor integration tests: start the real binary on an ephemeral
//! loopback port, stop it with a signal, read the stored events back through `smishtrap events`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_smishtrap");

#[derive(Debug)]
pub struct Sensor {
    pub child: Child,
    pub addrs: Vec<SocketAddr>,
    pub data: PathBuf,
    pub stderr: Arc<Mutex<String>>,
}

impl Sensor {
    /// Starts `smishtrap sensor` with `args` and waits for `expect_listeners` "listening on" lines.
    pub fn start_with(data: &Path, args: &[&str], expect_listeners: usize) -> Sensor {
        Sensor::start_under(&[], data, args, expect_listeners)
    }

    /// Like [`Self::start_with`], with the binary started through `prefix` (e.g. `prlimit`).
    pub fn start_under(
        prefix: &[&str],
        data: &Path,
        args: &[&str],
        expect_listeners: usize,
    ) -> Sensor {
        Sensor::start_named(prefix, "test-sensor", data, args, expect_listeners)
    }

    /// Like [`Self::start_under`], with `--sensor-name NAME`.
    pub fn start_named(
        prefix: &[&str],
        name: &str,
        data: &Path,
        args: &[&str],
        expect_listeners: usize,
    ) -> Sensor {
        let program = prefix.first().copied().unwrap_or(BIN);
        let rest = if prefix.is_empty() { &[][..] } else { &prefix[1..] };
        let mut command = Command::new(program);
        command.args(rest);
        if !prefix.is_empty() {
            command.arg(BIN);
        }
        let mut child = command
            .arg("sensor")
            .arg("--data")
            .arg(data)
            .arg("--sensor-name")
            .arg(name)
            .args(args)
            .env("SMISHTRAP_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sensor");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let addr =
                        rest.split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap();
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let mut addrs = Vec::new();
        for _ in 0..expect_listeners {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(a) => addrs.push(a),
                Err(_) => {
                    let _ = child.kill();
                    panic!("sensor did not start; stderr:\n{}", log.lock().unwrap());
                }
            }
        }
        Sensor { child, addrs, data: data.to_path_buf(), stderr: log }
    }

    pub fn start(data: &Path) -> Sensor {
        Sensor::start_with(data, &["--listen", "127.0.0.1:0", "--persona", "milesight-ur32l"], 1)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// SIGTERM, then waits; asserts a clean exit.
    pub fn stop(mut self) -> String {
        signal(&self.child, libc::SIGTERM);
        let status = wait(&mut self.child, Duration::from_secs(60));
        let log = self.stderr.lock().unwrap().clone();
        assert_eq!(status, Some(0), "sensor exit status; stderr:\n{log}");
        log
    }

    pub fn kill9(mut self) {
        signal(&self.child, libc::SIGKILL);
        let _ = wait(&mut self.child, Duration::from_secs(30));
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY-free: `kill` through a subprocess keeps the tests free of unsafe code.
    let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success());
}

fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

/// The stored events, oldest first, through the `events` command.
pub fn events(data: &Path) -> Vec<Value> {
    let read =
        || Command::new(BIN).args(["events", "--format", "jsonl", "--data"]).arg(data).output();
    let out = read().unwrap();
    if !out.status.success() {
        // a store that fails to read must be told apart from a reader's transient error:
        // check the file, and read it once more, before failing
        let check = rusqlite::Connection::open_with_flags(
            data.join("smishtrap.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|c| c.query_row("PRAGMA quick_check", [], |row| row.get::<_, String>(0)));
        let again = read().map(|o| o.status.success());
        panic!(
            "events failed: {}; quick_check: {check:?}; a second read succeeded: {again:?}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line is JSON"))
        .collect()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Sends raw bytes and returns everything the sensor answered before closing (or timing out).
pub fn raw(addr: SocketAddr, bytes: &[u8], read_for: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(read_for)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// The AES-128-CBC decryption an attacker does on a leaked `httpd.log` password.
pub fn decrypt(b64: &str) -> String {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let plain =
        cbc::Decryptor::<aes::Aes128>::new(b"1111111111111111".into(), b"2222222222222222".into())
            .decrypt_padded_vec_mut::<Pkcs7>(&bytes)
            .unwrap();
    String::from_utf8(plain).unwrap()
}

pub fn encrypt(plain: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    use base64::Engine;
    let bytes =
        cbc::Encryptor::<aes::Aes128>::new(b"1111111111111111".into(), b"2222222222222222".into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every `"username":"…","password":"…"` pair in a leaked log, as the public PoC extracts them.
pub fn leaked_credentials(log: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = log;
    while let Some(i) = rest.find("\"username\":\"") {
        rest = &rest[i + 12..];
        let Some(end) = rest.find('"') else { break };
        let user = rest[..end].to_owned();
        rest = &rest[end..];
        let Some(p) = rest.strip_prefix("\",\"password\":\"") else { continue };
        let Some(pend) = p.find('"') else { break };
        out.push((user, p[..pend].to_owned()));
        rest = &p[pend..];
    }
    out
}
