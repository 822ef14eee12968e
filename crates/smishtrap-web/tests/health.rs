//! `/healthz` and `/api/v1/health` follow the sensor's status file: degraded with the
//! sensor's reasons while it runs, `sensor-silent` when it went quiet without stopping, ok
//! once it stopped cleanly or when no sensor ever ran.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::Server;
use smishtrap_event::{Degraded, Health, SensorStatus};
use smishtrap_store::{StatusFile, status_path};

fn status(age: TimeDelta, stopped: bool, reasons: Vec<Degraded>) -> SensorStatus {
    let now = Utc::now();
    SensorStatus {
        sensor: "s1".into(),
        listeners: vec!["milesight-ur32l@127.0.0.1:8080".into()],
        started_at: now - TimeDelta::hours(1),
        updated_at: now - age,
        events_recorded: 552,
        events_not_recorded: 82_469,
        stopped,
        health: Health::from_reasons(reasons),
        fleet: None,
    }
}

/// Writes `status` (if any), waits out the console's cache, checks both health answers.
#[track_caller]
fn check<'a>(
    server: &'a Server,
    status: Option<SensorStatus>,
    healthz: (u16, &'a str),
    reasons: &'a [&'a str],
) -> impl std::future::Future<Output = ()> + 'a {
    if let Some(status) = &status {
        let mut file = StatusFile::create(&status_path(server.dir.path())).expect("status file");
        file.write(status).expect("write status");
    }
    async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let response = server.get("/healthz").await;
        let code = response.status().as_u16();
        assert_eq!((code, response.text().await.expect("body").as_str()), healthz);
        let api = server.api_json("/api/v1/health").await;
        let expect = if reasons.is_empty() { "ok" } else { "degraded" };
        assert_eq!(api["status"], expect, "{api}");
        assert_eq!(api["reasons"], serde_json::json!(reasons), "{api}");
        match &status {
            Some(s) => {
                assert_eq!(api["sensor"]["sensor"], "s1", "{api}");
                assert_eq!(api["sensor"]["events_not_recorded"], s.events_not_recorded);
                assert_eq!(api["sensor"]["health"], serde_json::to_value(&s.health).expect("json"));
            }
            None => assert!(api["sensor"].is_null(), "{api}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_sensor_status_file() {
    let server = Server::start().await;
    check(&server, None, (200, "ok\n"), &[]).await;
    let full = vec![Degraded::LowDisk, Degraded::StoreFull];
    check(
        &server,
        Some(status(TimeDelta::zero(), false, full.clone())),
        (503, "degraded: store-full low-disk\n"),
        &["store-full", "low-disk"],
    )
    .await;
    check(&server, Some(status(TimeDelta::zero(), false, vec![])), (200, "ok\n"), &[]).await;
    check(
        &server,
        Some(status(TimeDelta::minutes(1), false, full.clone())),
        (503, "degraded: sensor-silent\n"),
        &["sensor-silent"],
    )
    .await;
    // A sensor that stopped cleanly is not the console's problem any more.
    check(&server, Some(status(TimeDelta::minutes(1), true, full)), (200, "ok\n"), &[]).await;
}
