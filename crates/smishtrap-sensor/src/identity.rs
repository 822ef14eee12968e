//! Per-sensor identity: every identifier that must differ between deployments (serial, MAC,
//! IMEI, IMSI, ICCID, part number, bait credentials, token secret) is derived from a random
//! seed kept in the data directory (`sensor.seed`), so two sensors never look alike and one
//! sensor looks the same after a restart.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use crate::crypto::encrypt_password;
use crate::persona::{OperatorSpec, Persona};
use crate::state::Zone;

pub const SEED_FILE: &str = "sensor.seed";
const HEADER: &str = "smishtrap-seed v1";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line}: {reason}")]
    Invalid { path: PathBuf, line: usize, reason: &'static str },
}

/// The random secret behind a sensor's identity, with the time it was created (log dates
/// and uptime are anchored there so they stay stable across restarts).
#[derive(Clone, PartialEq, Eq)]
pub struct Seed {
    bytes: [u8; 32],
    pub created: DateTime<Utc>,
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seed").field("created", &self.created).finish_non_exhaustive()
    }
}

impl Seed {
    /// Reads `DIR/sensor.seed`, creating it (mode 0600) on first start.
    pub fn load_or_create(dir: &Path) -> Result<Seed, SeedError> {
        let path = dir.join(SEED_FILE);
        let io = |source| SeedError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                let seed = Seed { bytes: rand::rng().random(), created: Utc::now() };
                file.write_all(seed.to_text().as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(seed)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(io)?;
                Seed::parse(&text).map_err(|(line, reason)| SeedError::Invalid {
                    path,
                    line,
                    reason,
                })
            }
            Err(e) => Err(io(e)),
        }
    }

    fn to_text(&self) -> String {
        format!("{HEADER}\n{}\n{}\n", hex::encode(self.bytes), self.created.timestamp())
    }

    /// Parses the seed file; the error is (line, reason).
    pub fn parse(text: &str) -> Result<Seed, (usize, &'static str)> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err((1, "not a smishtrap seed file"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(lines.next().unwrap_or("").trim(), &mut bytes)
            .map_err(|_| (2, "expected 64 hex digits"))?;
        let created = lines
            .next()
            .and_then(|l| l.trim().parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or((3, "expected the creation time in unix seconds"))?;
        Ok(Seed { bytes, created })
    }

    /// A seed from fixed bytes (tests, fuzzing).
    pub fn from_bytes(bytes: [u8; 32], created: DateTime<Utc>) -> Seed {
        Seed { bytes, created }
    }

    fn rng_for(&self, persona: &str) -> ChaCha20Rng {
        let mut h = Sha256::new();
        h.update(self.bytes);
        h.update(b"identity/");
        h.update(persona.as_bytes());
        ChaCha20Rng::from_seed(h.finalize().into())
    }
}

/// The identifiers one persona shows on one sensor.
#[derive(Clone)]
pub struct Identity {
    pub serial: String,
    pub mac: String,
    pub imei: String,
    pub imsi: String,
    pub iccid: String,
    pub pn: String,
    pub operator: OperatorSpec,
    pub plmnid: String,
    pub lac: String,
    pub cellid: String,
    pub signal: String,
    pub hostname: String,
    /// The cellular address, its gateway (the other host of the /30) and the operator's DNS.
    pub wan_ip: String,
    pub wan_gateway: String,
    pub wan_dns: String,
    pub username: String,
    pub password: String,
    /// The bait password as the web UI encrypts it (what `httpd.log` leaks).
    pub password_enc: String,
    /// When the device was "installed" (the seed's creation).
    pub installed: DateTime<Utc>,
    /// Uptime the device already had when the seed was created, in seconds.
    pub uptime_at_install: i64,
    pub sms_counter_base: u64,
    /// Secret for session tokens.
    pub token_key: [u8; 32],
    /// When the device booted: fixed for the seed, so uptime grows with the clock and survives
    /// restarts.
    pub boot: DateTime<Utc>,
    /// The device's clock zone (the operator's country).
    pub zone: Zone,
    /// PIDs of the daemons started at boot (they differ between boots and so between devices).
    pub pids: Pids,
    /// The kernel banner of this unit's firmware build.
    pub kernel: String,
}

/// PIDs of the daemons that log, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pids {
    pub dnsmasq: u32,
    pub httpd: u32,
    pub cell: u32,
    pub sms: u32,
    pub ntpd: u32,
    pub dropbear: u32,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("serial", &self.serial)
            .field("imei", &self.imei)
            .finish_non_exhaustive()
    }
}

fn digits(rng: &mut ChaCha20Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// Luhn check digit for a string of digits.
pub fn luhn_digit(digits: &str) -> char {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn pick<'a, T>(rng: &mut ChaCha20Rng, items: &'a [T]) -> &'a T {
    // Personas are validated to have at least one item in each list.
    &items[rng.random_range(0..items.len())]
}

impl Identity {
    pub fn derive(seed: &Seed, persona: &Persona) -> Identity {
        let spec = &persona.identity;
        let mut rng = seed.rng_for(persona.name.as_str());
        let serial =
            format!("{}{}", spec.serial_prefix, digits(&mut rng, usize::from(spec.serial_digits)));
        let tail: [u8; 3] = rng.random();
        let mac = format!(
            "{}:{:02x}:{:02x}:{:02x}",
            spec.mac_oui.to_ascii_lowercase(),
            tail[0],
            tail[1],
            tail[2]
        );
        let tac = pick(&mut rng, &spec.imei_tac).clone();
        let imei_body = format!("{tac}{}", digits(&mut rng, 6));
        let imei = format!("{imei_body}{}", luhn_digit(&imei_body));
        let operator = pick(&mut rng, &spec.operator).clone();
        let plmnid = format!("{}{}", operator.mcc, operator.mnc);
        let imsi = format!("{plmnid}{}", digits(&mut rng, 15 - plmnid.len()));
        let iccid_body = format!(
            "89{}{}",
            operator.iccid_issuer,
            digits(&mut rng, 17 - operator.iccid_issuer.len())
        );
        let iccid = format!("{iccid_body}{}", luhn_digit(&iccid_body));
        let pn = pick(&mut rng, &persona.pn).clone();
        let lac = format!("{:X}", rng.random_range(0x1000..0xFFFFu32));
        let cellid = format!("{:X}", rng.random_range(0x100000..0x0FFF_FFFFu32));
        let asu = rng.random_range(14..28u32);
        let signal = format!("{asu}asu ({}dBm)", 2 * asu as i32 - 113);
        let hostname =
            format!("{}-{}", spec.hostname_prefix, &serial[serial.len().saturating_sub(4)..]);
        // A /30 as operators hand out to modems: the device and its gateway are the two hosts.
        let (a, b, last) =
            (rng.random_range(64..128u8), rng.random::<u8>(), rng.random_range(2..254u8));
        let base = last & 0xFC;
        let wan_ip = format!("10.{a}.{b}.{}", base + 1 + (last & 1));
        let wan_gateway = format!("10.{a}.{b}.{}", base + 2 - (last & 1));
        let wan_dns = operator.dns.join(" ");
        let username = pick(&mut rng, &spec.usernames).clone();
        let word = pick(&mut rng, &spec.password_words).clone();
        let symbol = *pick(&mut rng, &['@', '#', '!', '_', '.', '$']);
        // Enough variety (about 10^6 per word list) that two sensors never share a bait password.
        let password = if rng.random_bool(0.5) {
            format!("{word}{symbol}{}{}", rng.random_range(2015..2025u32), digits(&mut rng, 2))
        } else {
            format!(
                "{}{}{symbol}{}",
                word.to_ascii_lowercase(),
                digits(&mut rng, 4),
                rng.random_range(10..100u32)
            )
        };
        // Drawn either way so the other identifiers stay the same.
        let password = spec.default_password.clone().unwrap_or(password);
        let password_enc = encrypt_password(&password);
        let [lo, hi] = spec.uptime_days;
        let uptime_at_install =
            i64::from(rng.random_range(lo..=hi)) * 86_400 + rng.random_range(0..86_400i64);
        let [lo, hi] = spec.sms_counter;
        let sms_counter_base = u64::from(rng.random_range(lo..=hi));
        let token_key: [u8; 32] = rng.random();
        // Drawn after the older identifiers so those stay what existing sensors already show.
        let boot = seed.created - chrono::Duration::seconds(uptime_at_install);
        let mut pid = rng.random_range(380..1200u32);
        let mut next = || {
            pid += rng.random_range(7..160u32);
            pid
        };
        let pids = Pids {
            dnsmasq: next(),
            httpd: next(),
            cell: next(),
            sms: next(),
            ntpd: next(),
            dropbear: next(),
        };
        let kernel = pick(&mut rng, &spec.kernel_builds).clone();
        // Personas are validated to name known zones; UTC is the device default otherwise.
        let zone = Zone::parse(&operator.timezone).unwrap_or_else(Zone::utc);
        Identity {
            serial,
            mac,
            imei,
            imsi,
            iccid,
            pn,
            operator,
            plmnid,
            lac,
            cellid,
            signal,
            hostname,
            wan_ip,
            wan_gateway,
            wan_dns,
            username,
            password,
            password_enc,
            installed: seed.created,
            uptime_at_install,
            sms_counter_base,
            token_key,
            boot,
            zone,
            pids,
            kernel,
        }
    }

    /// A short public fingerprint of the seed and persona (names the state this identity owns).
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest([&self.token_key[..], b"/state"].concat())[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::PersonaSet;

    fn check_luhn(body: &str, expect: char) {
        assert_eq!(luhn_digit(body), expect, "luhn of {body}");
    }

    #[test]
    fn luhn_matches_known_numbers() {
        check_luhn("49015420323751", '8'); // IMEI 490154203237518
        check_luhn("7992739871", '3');
        check_luhn("8931440301234567891", '3');
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        let set = PersonaSet::embedded().unwrap();
        let persona = set.get("milesight-ur32l").unwrap();
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let first = Identity::derive(&Seed::load_or_create(a.path()).unwrap(), persona);
        let again = Identity::derive(&Seed::load_or_create(a.path()).unwrap(), persona);
        let other = Identity::derive(&Seed::load_or_create(b.path()).unwrap(), persona);
        assert_eq!(first.imei, again.imei);
        assert_eq!(first.password, again.password);
        assert_ne!(first.imei, other.imei);
        assert_ne!(first.serial, other.serial);
        assert_eq!(first.imei.len(), 15);
        assert_eq!(luhn_digit(&first.imei[..14]), first.imei.chars().last().unwrap());
        assert_eq!(first.imsi.len(), 15);
        assert!(first.iccid.starts_with("89") && first.iccid.len() == 20);
        assert_eq!(
            crate::crypto::decrypt_password(&first.password_enc).as_deref(),
            Some(first.password.as_str())
        );
    }

    #[test]
    fn a_corrupt_seed_file_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SEED_FILE), "smishtrap-seed v1\nxyz\n1\n").unwrap();
        let err = Seed::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sensor.seed: line 2: expected 64 hex digits"), "{err}");
    }
}
