//! `smishtrap console` through the real binary: first-start token, login URL, restart, errors.

mod console_support;

use std::process::Command;
use std::time::Duration;

use console_support::{BIN, ConsoleProcess};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[test]
fn first_start_generates_a_token_and_prints_a_working_login_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let console = ConsoleProcess::start(&data, &[]);
    let url = console.login_line.strip_prefix("log in: ").expect("login line").to_owned();
    assert!(url.starts_with(&console.url("/login?token=")), "{url}");
    let token_file = data.join("console-token");
    let stored = std::fs::read_to_string(&token_file).expect("token file");
    assert_eq!(url, console.url(&format!("/login?token={}", stored.trim())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is private");
    }
    let http = client();
    assert_eq!(http.get(console.url("/")).send().expect("get").status(), 303);
    let login = http.get(&url).send().expect("login");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    let session = cookie.split(';').next().expect("pair").to_owned();
    // No store yet: the console still serves, with nothing to show.
    let page = http.get(console.url("/")).header("cookie", &session).send().expect("get");
    assert_eq!(page.status(), 200);
    assert!(page.text().expect("body").contains("No sensor has recorded an event yet"));
    let health =
        http.get(console.url("/api/v1/health")).bearer_auth(stored.trim()).send().expect("health");
    assert_eq!(health.status(), 200);
    assert_eq!(console.stop(), Some(0), "SIGTERM stops the console cleanly");

    // A restart reuses the stored token and does not print it again.
    let again = ConsoleProcess::start(&data, &[]);
    assert!(!again.login_line.contains(stored.trim()), "{}", again.login_line);
    assert!(again.login_line.contains("console-token"), "{}", again.login_line);
    let status = client()
        .get(again.url("/api/v1/health"))
        .bearer_auth(stored.trim())
        .send()
        .expect("health")
        .status();
    assert_eq!(status, 200);
    assert_eq!(again.stop(), Some(0));
}

#[test]
fn a_given_token_is_used_and_a_weak_one_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = ConsoleProcess::start(
        dir.path(),
        &["--token", "given-token-0123456789", "--session-hours", "2"],
    );
    assert!(!console.login_line.contains("given-token"), "{}", console.login_line);
    let http = client();
    let ok = http.get(console.url("/api/v1/sensors")).bearer_auth("given-token-0123456789");
    assert_eq!(ok.send().expect("get").status(), 200);
    assert!(!dir.path().join("console-token").exists(), "a given token is not stored");
    let login = http.get(console.url("/login?token=given-token-0123456789")).send().expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(cookie.contains("Max-Age=7200"), "{cookie}");
    assert_eq!(console.stop(), Some(0));

    let out = Command::new(BIN)
        .args(["console", "--listen", "127.0.0.1:0", "--session-hours", "0", "--data"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "a session must last at least an hour");

    let out = Command::new(BIN)
        .args(["console", "--listen", "127.0.0.1:0", "--token", "short", "--data"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--token") && stderr.contains("shorter than 16"), "{stderr}");
}
