//! Enrollment against a real `nats-server -js` running the configuration
//! `smishtrap hub nats-config` prints: per-sensor NKey users, publish only to the own
//! subjects, no subscriptions but the own inbox, revocation and enrollment applied by a
//! reload (no restart), and TLS verified against a CA file.
//! Run: `cargo test -p smishtrap-forward --test auth` (needs /usr/sbin/nats-server).

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream;
use futures_util::StreamExt;
use smishtrap_forward::enroll::{NatsServerConfig, Registry, inbox_prefix};
use smishtrap_forward::{ForwardConfig, Forwarder, SensorName, connect, ensure_stream, subject};
use smishtrap_store::SqliteStore;
use support::{Nats, event, stream_ids, wait_until};

fn name(s: &str) -> SensorName {
    SensorName::parse(s).unwrap()
}

/// A registry with sensors `a` and `b`, and the server configuration written beside it.
fn setup(dir: &Path, tls: Option<(PathBuf, PathBuf)>) -> (Registry, PathBuf) {
    let registry = Registry::open(&dir.join("nats")).unwrap();
    for sensor in ["a", "b"] {
        registry.enroll(&name(sensor), &dir.join(format!("creds/{sensor}.nk"))).unwrap();
    }
    let config = NatsServerConfig {
        listen: "127.0.0.1:4222".into(),
        store_dir: dir.join("js"),
        max_file_store: 1 << 30,
        tls,
        monitor_port: None,
    };
    let path = registry.dir().join("nats-server.conf");
    std::fs::write(&path, config.render()).unwrap();
    (registry, path)
}

/// A sensor's connection as the forwarder makes it (own inbox prefix).
async fn sensor_client(url: &str, creds: &Path, sensor: &str) -> async_nats::Client {
    let inbox = inbox_prefix(&name(sensor));
    connect(url, Some(creds), None, sensor, Some(&inbox)).await.unwrap()
}

/// Publishes one event of `as_sensor` to `to`'s subject and waits for the stream's ack.
async fn publish(client: &async_nats::Client, to: &str, as_sensor: &str, n: u32) -> bool {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(Duration::from_secs(1));
    let payload = serde_json::to_vec(&event(as_sensor, n)).unwrap();
    match js.publish(subject(&name(to)), payload.into()).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    }
}

/// Direct connection attempt (no background retry): does the server accept these credentials?
async fn accepted(url: &str, seed_file: &Path) -> bool {
    let text = std::fs::read_to_string(seed_file).unwrap();
    let seed = text.lines().find(|l| l.starts_with("SU")).unwrap().to_owned();
    async_nats::ConnectOptions::with_nkey(seed).connect(url).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensors_publish_only_as_themselves_and_revocation_needs_no_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (registry, conf) = setup(tmp.path(), None);
    let nats = Nats::start_with_config(&tmp.path().join("js"), Some(&conf));
    let url = nats.url();
    assert!(async_nats::connect(&url).await.is_err(), "anonymous connection accepted");

    let hub = connect(&url, Some(&registry.hub_key_path()), None, "hub", None).await.unwrap();
    let hub_js = jetstream::new(hub.clone());
    ensure_stream(&hub_js, Duration::from_secs(120)).await.unwrap();

    let creds_a = tmp.path().join("creds/a.nk");
    let creds_b = tmp.path().join("creds/b.nk");
    let a = sensor_client(&url, &creds_a, "a").await;
    let b = sensor_client(&url, &creds_b, "b").await;

    // b listens on the event subjects and on a's inbox: both subscriptions are refused.
    let mut spy_events = b.subscribe("smishtrap.events.>").await.unwrap();
    let mut spy_inbox = b.subscribe(format!("{}.>", inbox_prefix(&name("a")))).await.unwrap();
    b.flush().await.unwrap();

    assert!(publish(&a, "a", "a", 1).await, "a cannot publish to its own subject");
    assert!(!publish(&a, "b", "b", 2).await, "a published on b's subject");
    assert!(!publish(&a, "b", "a", 3).await, "a published on b's subject");
    let got = tokio::time::timeout(Duration::from_millis(500), spy_events.next()).await;
    assert!(!matches!(got, Ok(Some(_))), "b received events of the stream");
    let got = tokio::time::timeout(Duration::from_millis(100), spy_inbox.next()).await;
    assert!(!matches!(got, Ok(Some(_))), "b received a's acknowledgements");

    // No JetStream API for a sensor: it cannot read the stream or make a consumer on it.
    let mut b_js = jetstream::new(b.clone());
    b_js.set_timeout(Duration::from_secs(1));
    assert!(b_js.get_stream(smishtrap_forward::STREAM).await.is_err(), "b read the stream");
    assert_eq!(
        stream_ids(&hub_js).await,
        vec![("smishtrap.events.a".to_owned(), "as1-0".to_owned())],
        "the stream holds exactly a's own event"
    );

    // Revoke b: after a reload its credentials are refused, its open connection too.
    registry.revoke(&name("b")).unwrap();
    nats.reload();
    assert!(!accepted(&url, &creds_b).await, "revoked credentials accepted");
    assert!(!publish(&b, "b", "b", 4).await, "revoked sensor still publishes");
    assert!(accepted(&url, &creds_a).await, "a's credentials refused after b's revocation");

    // Enroll c while NATS runs: usable after a reload.
    let creds_c = tmp.path().join("creds/c.nk");
    registry.enroll(&name("c"), &creds_c).unwrap();
    assert!(!accepted(&url, &creds_c).await, "credentials accepted before the reload");
    nats.reload();
    let c = sensor_client(&url, &creds_c, "c").await;
    assert!(publish(&c, "c", "c", 5).await, "newly enrolled sensor cannot publish");
}

/// A CA and a server certificate for 127.0.0.1, as PEM files in `dir`: (ca, cert, key).
fn make_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "smishtrap test ca");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server-key.pem"));
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarder_uses_tls_with_the_ca_file_and_its_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_pki(tmp.path());
    let (registry, conf) = setup(tmp.path(), Some((cert, key)));
    let nats = Nats::start_with_config(&tmp.path().join("js"), Some(&conf));
    let url = format!("tls://127.0.0.1:{}", nats.port);

    let hub = connect(&url, Some(&registry.hub_key_path()), Some(&ca), "hub", None).await.unwrap();
    let hub_js = jetstream::new(hub);
    tokio::time::timeout(Duration::from_secs(10), ensure_stream(&hub_js, Duration::from_secs(60)))
        .await
        .expect("no TLS connection with the CA file")
        .unwrap();

    // Without the CA the server's certificate is not trusted: nothing gets through.
    let untrusted = async_nats::ConnectOptions::new().require_tls(true).connect(&url).await;
    assert!(untrusted.is_err(), "TLS connection without the CA");

    let db = tmp.path().join("smishtrap.db");
    let mut store = SqliteStore::open(&db).unwrap();
    let events: Vec<_> = (0..20).map(|n| event("a", n)).collect();
    store.insert_batch(&events).unwrap();
    let mut config = ForwardConfig::new(url, db, name("a"));
    config.credentials = Some(tmp.path().join("creds/a.nk"));
    config.ca = Some(ca);
    config.poll = Duration::from_millis(20);
    let forwarder = Forwarder::new(config);
    let stats = forwarder.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(forwarder.run(async {
        let _ = stopped.await;
    }));
    wait_until(20, "20 events forwarded over TLS", || stats.cursor.load(Ordering::Relaxed) == 20)
        .await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    assert_eq!(stream_ids(&hub_js).await.len(), 20);
}
