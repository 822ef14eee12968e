//! The console's access token: given with `--token` or generated on first start and kept in
//! `DIR/console-token` (mode 0600). Never printed by `Debug`; compared in constant time.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::WebError;

/// Shortest token accepted: anything shorter can be guessed by an attacker who reaches the port.
pub const MIN_TOKEN_LEN: usize = 16;
/// Longest token accepted (tokens travel in URLs and headers).
pub const MAX_TOKEN_LEN: usize = 256;

/// A secret that grants access to the console.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Where a token came from, so the binary knows whether to print a login URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Given on the command line.
    Given,
    /// Read from this file (written by an earlier start).
    Stored(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

impl Token {
    /// Accepts visible ASCII without spaces (so it fits URLs, headers and the file), 16 to 256
    /// characters.
    pub fn parse(raw: &str, origin: &str) -> Result<Token, WebError> {
        let raw = raw.trim();
        let bad = |reason| WebError::InvalidToken { origin: origin.to_owned(), reason };
        if raw.len() < MIN_TOKEN_LEN {
            return Err(bad("shorter than 16 characters"));
        }
        if raw.len() > MAX_TOKEN_LEN {
            return Err(bad("longer than 256 characters"));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("only visible ASCII characters without spaces are allowed"));
        }
        Ok(Token(raw.to_owned()))
    }

    /// 256 random bits from the OS-seeded CSPRNG, hex encoded.
    pub fn generate() -> Token {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Token(hex::encode(bytes))
    }

    /// The secret itself, for the login URL printed at first start.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison: both sides are hashed first so neither the length nor the
    /// position of the first difference leaks through timing.
    pub fn matches(&self, candidate: &str) -> bool {
        let want = Sha256::digest(self.0.as_bytes());
        let got = Sha256::digest(candidate.as_bytes());
        want.ct_eq(&got).into()
    }
}

/// The token file of a data directory.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("console-token")
}

/// The token to use: `given` if any; else the stored one; else a new one written to
/// `DIR/console-token` with mode 0600 (created exclusively, so two starts cannot race).
pub fn load_or_create(
    data_dir: &Path,
    given: Option<&str>,
) -> Result<(Token, TokenOrigin), WebError> {
    if let Some(given) = given {
        return Ok((Token::parse(given, "--token")?, TokenOrigin::Given));
    }
    let path = token_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(raw) => {
            let token = Token::parse(&raw, &path.display().to_string())?;
            return Ok((token, TokenOrigin::Stored(path)));
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(WebError::Io { path, source }),
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|source| WebError::Io { path: data_dir.to_owned(), source })?;
    let token = Token::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(&path) {
        Ok(file) => file,
        // Another process created it between our read and our create: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return load_or_create(data_dir, None);
        }
        Err(source) => return Err(WebError::Io { path, source }),
    };
    file.write_all(format!("{}\n", token.expose()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| WebError::Io { path: path.clone(), source })?;
    Ok((token, TokenOrigin::Generated(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, ok: bool) {
        assert_eq!(Token::parse(raw, "test").is_ok(), ok, "{raw:?}");
    }

    #[test]
    fn tokens_are_bounded_visible_ascii() {
        check("0123456789abcdef", true);
        check("  0123456789abcdef\n", true);
        check("0123456789abcde", false);
        check("0123456789 abcdef", false);
        check("0123456789abcdéf", false);
        check(&"a".repeat(257), false);
    }

    #[test]
    fn matching_is_exact() {
        let t = Token::parse("0123456789abcdef", "test").unwrap();
        assert!(t.matches("0123456789abcdef"));
        assert!(!t.matches("0123456789abcdeF"));
        assert!(!t.matches("0123456789abcdef0"));
        assert!(!t.matches(""));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn first_start_generates_a_private_token_and_later_starts_reuse_it() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = load_or_create(dir.path(), None).unwrap();
        assert_eq!(origin, TokenOrigin::Generated(token_path(dir.path())));
        assert_eq!(first.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(dir.path(), None).unwrap();
        assert_eq!(origin, TokenOrigin::Stored(token_path(dir.path())));
        assert!(again.matches(first.expose()));
        let (given, origin) = load_or_create(dir.path(), Some("given-token-0123456")).unwrap();
        assert_eq!(origin, TokenOrigin::Given);
        assert!(given.matches("given-token-0123456"));
        assert!(load_or_create(dir.path(), Some("short")).is_err());
    }
}
