//! The examples the documentation shows must keep working.

use std::process::Command;

fn smishtrap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_smishtrap"))
}

#[test]
fn example_sensor_config_is_valid_and_declares_two_listeners() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sensor.example.toml");
    let out = smishtrap().args(["sensor", "--config", config, "--check-config"]).output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let listeners: Vec<&str> = stdout.lines().collect();
    assert_eq!(listeners, ["127.0.0.1:8080\tmilesight-ur32l", "127.0.0.1:8081\tmilesight-ur5x"]);
}

#[test]
fn example_config_also_configures_run() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sensor.example.toml");
    let out = smishtrap().args(["run", "--config", config, "--check-config"]).output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "sensor\t127.0.0.1:8080\tmilesight-ur32l",
            "sensor\t127.0.0.1:8081\tmilesight-ur5x",
            "console\t127.0.0.1:9090"
        ]
    );
    // without a config: the documented defaults
    let out = smishtrap().args(["run", "--check-config"]).output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "sensor\t127.0.0.1:8080\tmilesight-ur32l\nconsole\t127.0.0.1:9090\n");
}

#[test]
fn an_unknown_key_in_the_example_is_rejected_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/sensor.example.toml"
    ))
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, example.replace("request_burst", "request_brust")).unwrap();
    let out =
        smishtrap().args(["sensor", "--config"]).arg(&bad).arg("--check-config").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("request_brust"), "{stderr}");
}
