//! HTTPS for a persona: the device's self-signed certificate, shaped by the persona's `[tls]`
//! data (key type, subject = issuer, validity from the device's boot), made once per sensor and
//! persona from the sensor's identity and kept in the data directory, and the rustls server
//! configuration that serves it.
//!
//! Invariant: two sensors never share a certificate or key (both come from the per-sensor
//! identity), and one sensor keeps its certificate across restarts (the file wins over
//! generation).

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand_chacha_03::ChaCha20Rng;
use rand_chacha_03::rand_core::{RngCore, SeedableRng};
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, SerialNumber};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::identity::Identity;
use crate::persona::{Persona, Tls, TlsKey, Vars};

/// Folder of the certificates in the data directory: `<persona>.pem` (certificate and key).
pub const TLS_DIR: &str = "tls";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("persona {persona}: cannot make its certificate: {reason}")]
    Generate { persona: String, reason: String },
    #[error("persona {persona} serves no HTTPS (its file has no [tls] section)")]
    NoTls { persona: String },
}

/// Variables of certificate subject templates: the device's identity.
struct CertVars<'a> {
    persona: &'a Persona,
    identity: &'a Identity,
}

impl Vars for CertVars<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let (p, i) = (self.persona, self.identity);
        Some(Cow::Borrowed(match name {
            "vendor" => &p.vendor,
            "model" => &p.model,
            "pn" => &i.pn,
            "oem" => &p.oem,
            "rtver" => &p.rtver,
            "serial" => &i.serial,
            "mac" => &i.mac,
            "hostname" => &i.hostname,
            "lan_ip" => &p.identity.lan_ip,
            "wan_ip" => &i.wan_ip,
            _ => return None,
        }))
    }
}

/// The server configuration of `persona`'s HTTPS, its certificate read from `DIR/tls/` or made
/// (and stored there, mode 0600) on first start.
pub fn server_config(
    dir: &Path,
    persona: &Persona,
    identity: &Identity,
) -> Result<Arc<ServerConfig>, TlsError> {
    let Some(tls) = &persona.tls else {
        return Err(TlsError::NoTls { persona: persona.name.as_str().to_owned() });
    };
    let (cert, key) = load_or_create(dir, persona, tls, identity)?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        tls.tls12.then_some(&rustls::version::TLS12),
        tls.tls13.then_some(&rustls::version::TLS13),
    ]
    .into_iter()
    .flatten()
    .collect();
    let generate =
        |reason: String| TlsError::Generate { persona: persona.name.as_str().to_owned(), reason };
    #[allow(deprecated, reason = "ring has no post-quantum key exchange; nor has the firmware")]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| generate(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| generate(e.to_string()))?;
    // What an HTTP/1.1-only server answers to ALPN.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_or_create(
    dir: &Path,
    persona: &Persona,
    tls: &Tls,
    identity: &Identity,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let folder = dir.join(TLS_DIR);
    let path = folder.join(format!("{}.pem", persona.name.as_str()));
    let io = |source| TlsError::Io { path: path.clone(), source };
    std::fs::create_dir_all(&folder).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let pem = match options.open(&path) {
        Ok(mut file) => {
            let pem = generate(persona, tls, identity).map_err(|reason| TlsError::Generate {
                persona: persona.name.as_str().to_owned(),
                reason,
            })?;
            file.write_all(pem.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            pem
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(&path).map_err(io)?
        }
        Err(e) => return Err(io(e)),
    };
    let invalid =
        |reason: &str| TlsError::Invalid { path: path.clone(), reason: reason.to_owned() };
    let cert = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| invalid("no certificate (delete the file to make a new one)"))?;
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| invalid("no private key (delete the file to make a new one)"))?;
    Ok((cert, key))
}

/// The certificate and key (PEM) the device makes: key and serial from the identity's secret,
/// valid from the device's boot time.
fn generate(persona: &Persona, tls: &Tls, identity: &Identity) -> Result<String, String> {
    let mut h = Sha256::new();
    h.update(identity.token_key);
    h.update(b"tls/");
    h.update(persona.name.as_str().as_bytes());
    let mut rng = ChaCha20Rng::from_seed(h.finalize().into());
    let key = match tls.key {
        TlsKey::Rsa2048 => {
            use rsa::pkcs8::EncodePrivateKey;
            let rsa = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
            let der = rsa.to_pkcs8_der().map_err(|e| e.to_string())?;
            KeyPair::try_from(der.as_bytes()).map_err(|e| e.to_string())?
        }
        TlsKey::EcdsaP256 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?
        }
    };
    let mut params = CertificateParams::default();
    let vars = CertVars { persona, identity };
    let mut dn = DistinguishedName::new();
    for (attr, value) in &tls.subject {
        let kind = match attr.as_str() {
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            _ => DnType::CommonName,
        };
        let text = value.render(&vars);
        // OpenSSL's default: PrintableString where the text allows it.
        let value = match rcgen::PrintableString::try_from(text.clone()) {
            Ok(p) => DnValue::PrintableString(p),
            Err(_) => DnValue::Utf8String(text),
        };
        dn.push(kind, value);
    }
    params.distinguished_name = dn;
    let mut serial = [0u8; 8];
    rng.fill_bytes(&mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let boot = identity.installed.timestamp() - identity.uptime_at_install;
    let start = chrono::DateTime::from_timestamp(boot, 0).unwrap_or(identity.installed);
    let day = rcgen::date_time_ymd(
        chrono::Datelike::year(&start),
        u8::try_from(chrono::Datelike::month(&start)).unwrap_or(1),
        u8::try_from(chrono::Datelike::day(&start)).unwrap_or(1),
    );
    let into_day =
        std::time::Duration::from_secs(u64::try_from(boot.rem_euclid(86_400)).unwrap_or_default());
    params.not_before = day + into_day;
    params.not_after =
        params.not_before + std::time::Duration::from_secs(u64::from(tls.days) * 86_400);
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(format!("{}{}", cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;
    use crate::persona::PersonaSet;
    use chrono::Utc;

    #[test]
    fn a_certificate_is_made_once_and_kept() {
        let set = PersonaSet::embedded().unwrap();
        let mut persona = set.get("milesight-ur32l").unwrap().clone();
        // ECDSA keeps this unit test fast; the RSA path runs in the integration tests.
        if let Some(tls) = &mut persona.tls {
            tls.key = TlsKey::EcdsaP256;
        }
        let identity = Identity::derive(&Seed::from_bytes([7; 32], Utc::now()), &persona);
        let dir = tempfile::tempdir().unwrap();
        let first =
            load_or_create(dir.path(), &persona, persona.tls.as_ref().unwrap(), &identity).unwrap();
        let again =
            load_or_create(dir.path(), &persona, persona.tls.as_ref().unwrap(), &identity).unwrap();
        assert_eq!(first.0, again.0);
        server_config(dir.path(), &persona, &identity).unwrap();
        let path = dir.path().join(TLS_DIR).join("milesight-ur32l.pem");
        std::fs::write(&path, "not pem").unwrap();
        let err = server_config(dir.path(), &persona, &identity).unwrap_err().to_string();
        assert!(err.contains("milesight-ur32l.pem: no certificate"), "{err}");
    }
}
