//! Enrollment: the hub's registry of sensors allowed on NATS, and the NATS server
//! configuration generated from it.
//!
//! Every sensor gets its own NKey user. Its permissions: publish only to
//! `smishtrap.events.<name>` and `smishtrap.status.<name>`, subscribe only to its own reply
//! inbox `_INBOX_<name>.>` (JetStream acknowledgements arrive there). No stream reads, no
//! JetStream API. The hub's user may use the JetStream API and acknowledge messages.
//!
//! Layout of the registry directory (default `/etc/smishtrap/nats`):
//! - `hub.nk`: the hub's NKey seed (0600), used as the hub's `--credentials`;
//! - `sensors/<name>.pub`: the public key of each enrolled sensor (the seed leaves with the
//!   credentials file and is not kept);
//! - `users.conf`: the `authorization` block NATS includes, rewritten atomically after every
//!   enroll and revoke. `nats-server --signal reload` (or SIGHUP) applies it without a restart.
//!
//! Invariant: `users.conf` lists exactly the hub and the keys under `sensors/`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{SUBJECT_PREFIX, SensorName, status_subject};

/// Name of the users file NATS includes (relative to its configuration file: NATS resolves
/// an `include` against the including file's directory).
pub const USERS_FILE: &str = "users.conf";

/// Name of the hub's seed file in the registry directory.
pub const HUB_KEY_FILE: &str = "hub.nk";

/// Largest credentials file read (a seed is 58 bytes, a `.creds` file about 1 KiB).
const MAX_CREDENTIALS_BYTES: u64 = 64 * 1024;

/// Why an enrollment operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// A file of the registry cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The sensor is enrolled already (revoke it first to issue new credentials).
    #[error("sensor {0} is enrolled already (revoke it first to issue new credentials)")]
    Exists(SensorName),
    /// The sensor is not enrolled.
    #[error("sensor {0} is not enrolled")]
    Unknown(SensorName),
    /// A key file holds something else than an NKey.
    #[error("{path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EnrollError + '_ {
    move |source| EnrollError::Io { path: path.to_owned(), source }
}

/// Credentials a client presents to NATS, read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A `.creds` file (user JWT and NKey seed; decentralized NATS auth).
    CredsFile(PathBuf),
    /// An NKey user seed (`SU…`), as written by [`Registry::enroll`].
    NkeySeed(String),
}

impl Credentials {
    /// Reads a credentials file: a NATS `.creds` file or a smishtrap NKey seed file (comment
    /// lines starting with `#`, one line with the seed).
    pub fn read(path: &Path) -> Result<Credentials, EnrollError> {
        let meta = fs::metadata(path).map_err(io(path))?;
        if meta.len() > MAX_CREDENTIALS_BYTES {
            return Err(EnrollError::Key {
                path: path.to_owned(),
                message: format!("{} bytes: not a credentials file", meta.len()),
            });
        }
        let text = fs::read_to_string(path).map_err(io(path))?;
        if text.contains("-----BEGIN NATS USER JWT-----") {
            return Ok(Credentials::CredsFile(path.to_owned()));
        }
        let seed = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or_default();
        match nkeys::KeyPair::from_seed(seed) {
            Ok(pair) if pair.public_key().starts_with('U') => {
                Ok(Credentials::NkeySeed(seed.to_owned()))
            }
            _ => Err(EnrollError::Key {
                path: path.to_owned(),
                message: "expected a NATS .creds file or an NKey user seed (SU…)".into(),
            }),
        }
    }
}

/// The hub's registry of enrolled sensors (see the module docs).
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// Opens (creating if needed) the registry in `dir`: the hub's key and the users file
    /// exist afterwards.
    pub fn open(dir: &Path) -> Result<Registry, EnrollError> {
        let registry = Registry { dir: dir.to_owned() };
        fs::create_dir_all(registry.sensors_dir()).map_err(io(dir))?;
        let hub = registry.hub_key_path();
        if !hub.exists() {
            let pair = nkeys::KeyPair::new_user();
            write_secret(&hub, &seed_file("the smishtrap hub", &pair, &hub)?)?;
        }
        if !registry.users_path().exists() {
            registry.write_users()?;
        }
        Ok(registry)
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hub's seed file (its `--credentials`).
    pub fn hub_key_path(&self) -> PathBuf {
        self.dir.join(HUB_KEY_FILE)
    }

    /// The users file NATS includes.
    pub fn users_path(&self) -> PathBuf {
        self.dir.join(USERS_FILE)
    }

    fn sensors_dir(&self) -> PathBuf {
        self.dir.join("sensors")
    }

    fn sensor_path(&self, name: &SensorName) -> PathBuf {
        self.sensors_dir().join(format!("{name}.pub"))
    }

    /// Enrolled sensors with their public keys, sorted by name.
    pub fn sensors(&self) -> Result<Vec<(SensorName, String)>, EnrollError> {
        let dir = self.sensors_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            let Some(stem) = path.extension().filter(|e| *e == "pub").and(path.file_stem()) else {
                continue;
            };
            // Files not named by a valid sensor are not ours; never let them into users.conf.
            let Ok(name) = SensorName::parse(&stem.to_string_lossy()) else { continue };
            out.push((name, read_public_key(&path)?));
        }
        out.sort();
        Ok(out)
    }

    /// Issues new credentials for `name`: writes the seed file `out` (0600) and rewrites the
    /// users file. Refused when the sensor is enrolled already.
    pub fn enroll(&self, name: &SensorName, out: &Path) -> Result<(), EnrollError> {
        let path = self.sensor_path(name);
        if path.exists() {
            return Err(EnrollError::Exists(name.clone()));
        }
        let pair = nkeys::KeyPair::new_user();
        write_secret(out, &seed_file(&format!("smishtrap sensor {name}"), &pair, out)?)?;
        write_atomic(&path, format!("{}\n", pair.public_key()).as_bytes(), 0o644)?;
        self.write_users()
    }

    /// Withdraws `name`'s credentials: removes its key and rewrites the users file.
    pub fn revoke(&self, name: &SensorName) -> Result<(), EnrollError> {
        let path = self.sensor_path(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EnrollError::Unknown(name.clone()));
            }
            Err(e) => return Err(io(&path)(e)),
        }
        self.write_users()
    }

    /// Regenerates the users file from the hub key and the enrolled sensors.
    fn write_users(&self) -> Result<(), EnrollError> {
        let hub_path = self.hub_key_path();
        let hub = match Credentials::read(&hub_path)? {
            Credentials::NkeySeed(seed) => nkeys::KeyPair::from_seed(&seed)
                .map_err(|e| EnrollError::Key { path: hub_path.clone(), message: e.to_string() })?
                .public_key(),
            Credentials::CredsFile(_) => {
                return Err(EnrollError::Key {
                    path: hub_path,
                    message: "expected an NKey user seed".into(),
                });
            }
        };
        let text = users_conf(&hub, &self.sensors()?);
        write_atomic(&self.users_path(), text.as_bytes(), 0o644)
    }
}

/// The `authorization` block for the hub and the sensors.
fn users_conf(hub: &str, sensors: &[(SensorName, String)]) -> String {
    let mut out = String::from(
        "# Generated by `smishtrap hub enroll` and `smishtrap hub revoke`; do not edit.\n\
         # Apply changes without a restart: nats-server --signal reload=<pid> (or SIGHUP).\n\
         authorization {\n  users = [\n",
    );
    // The hub: JetStream API (stream, consumer, fetch), acks, sensor heartbeats, its inbox.
    let _ = writeln!(
        out,
        "    {{ nkey: \"{hub}\", permissions: {{ publish: {{ allow: [\"$JS.API.>\", \"$JS.ACK.>\"] }}, \
         subscribe: {{ allow: [\"_INBOX.>\", \"{status}.>\"] }} }} }}",
        status = crate::STATUS_PREFIX
    );
    for (name, key) in sensors {
        let _ = writeln!(
            out,
            "    # sensor {name}\n    {{ nkey: \"{key}\", permissions: {{ publish: {{ allow: \
             [\"{SUBJECT_PREFIX}.{name}\", \"{status}\"] }}, subscribe: {{ allow: [\"{inbox}.>\"] }} }} }}",
            status = status_subject(name),
            inbox = inbox_prefix(name),
        );
    }
    out.push_str("  ]\n}\n");
    out
}

/// The reply-inbox prefix of a sensor's connection (`_INBOX_<name>`): its only subscription.
pub fn inbox_prefix(name: &SensorName) -> String {
    format!("_INBOX_{name}")
}

/// Options of the NATS server configuration printed by `smishtrap hub nats-config`.
#[derive(Debug, Clone)]
pub struct NatsServerConfig {
    /// Address NATS listens on for clients.
    pub listen: String,
    /// JetStream's store directory.
    pub store_dir: PathBuf,
    /// Most disk JetStream may use, in bytes.
    pub max_file_store: u64,
    /// Server certificate and key (PEM); TLS on when both are set.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// NATS's HTTP monitoring port (loopback), if any.
    pub monitor_port: Option<u16>,
}

impl NatsServerConfig {
    /// The configuration text; save it next to the registry's users file (the include is
    /// relative to the configuration file).
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# NATS server configuration for smishtrap (printed by `smishtrap hub nats-config`).\n\
             # Save it in the registry directory, next to users.conf.\n",
        );
        let _ = writeln!(out, "listen: {}", quote(&self.listen));
        let _ = writeln!(out, "max_payload: {}", crate::MAX_EVENT_BYTES);
        if let Some(port) = self.monitor_port {
            let _ = writeln!(out, "http: \"127.0.0.1:{port}\"");
        }
        let _ = writeln!(
            out,
            "jetstream {{\n  store_dir: {}\n  max_file_store: {}\n}}",
            quote(&self.store_dir.to_string_lossy()),
            self.max_file_store
        );
        if let Some((cert, key)) = &self.tls {
            let _ = writeln!(
                out,
                "tls {{\n  cert_file: {}\n  key_file: {}\n  timeout: 5\n}}",
                quote(&cert.to_string_lossy()),
                quote(&key.to_string_lossy())
            );
        }
        let _ = writeln!(out, "include ./{USERS_FILE}");
        out
    }
}

/// A NATS configuration string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn seed_file(who: &str, pair: &nkeys::KeyPair, path: &Path) -> Result<String, EnrollError> {
    let seed = pair
        .seed()
        .map_err(|e| EnrollError::Key { path: path.to_owned(), message: e.to_string() })?;
    Ok(format!(
        "# NATS credentials of {who} (NKey user {}); keep secret, mode 0600\n{seed}\n",
        pair.public_key()
    ))
}

fn read_public_key(path: &Path) -> Result<String, EnrollError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    let key = text.trim();
    match nkeys::KeyPair::from_public_key(key) {
        Ok(_) if key.starts_with('U') => Ok(key.to_owned()),
        _ => Err(EnrollError::Key {
            path: path.to_owned(),
            message: "expected an NKey user public key (U…)".into(),
        }),
    }
}

/// Writes a new secret file readable by its owner only; refuses to overwrite.
fn write_secret(path: &Path, text: &str) -> Result<(), EnrollError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io(path))
}

/// Replaces a file atomically (write beside, fsync, rename), so NATS never reads half of it.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EnrollError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> SensorName {
        SensorName::parse(s).unwrap()
    }

    #[test]
    fn enroll_and_revoke_rewrite_the_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        let creds = dir.path().join("out/be-01.nk");
        registry.enroll(&name("be-01"), &creds).unwrap();
        let mode = fs::metadata(&creds).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            matches!(Credentials::read(&creds).unwrap(), Credentials::NkeySeed(s) if s.starts_with("SU"))
        );
        let users = fs::read_to_string(registry.users_path()).unwrap();
        assert!(
            users.contains("\"smishtrap.events.be-01\", \"smishtrap.status.be-01\""),
            "{users}"
        );
        assert!(users.contains("\"_INBOX_be-01.>\""), "{users}");
        assert!(matches!(
            registry.enroll(&name("be-01"), &dir.path().join("x.nk")),
            Err(EnrollError::Exists(_))
        ));
        registry.revoke(&name("be-01")).unwrap();
        let users = fs::read_to_string(registry.users_path()).unwrap();
        assert!(!users.contains("be-01"), "{users}");
        assert!(matches!(registry.revoke(&name("be-01")), Err(EnrollError::Unknown(_))));
    }

    #[test]
    fn stray_files_never_reach_the_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(dir.path()).unwrap();
        fs::write(dir.path().join("sensors/a.b.pub"), "UABC\n").unwrap();
        fs::write(dir.path().join("sensors/notes.txt"), "x").unwrap();
        assert!(registry.sensors().unwrap().is_empty());
    }

    #[test]
    fn credentials_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        fs::write(&path, "# nothing\nnot a seed\n").unwrap();
        assert!(Credentials::read(&path).is_err());
        fs::write(&path, "-----BEGIN NATS USER JWT-----\nx\n").unwrap();
        assert_eq!(Credentials::read(&path).unwrap(), Credentials::CredsFile(path.clone()));
    }
}
