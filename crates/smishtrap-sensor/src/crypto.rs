//! The Milesight web UI's password "encryption": AES-128-CBC with a key and IV hard-coded in
//! its JavaScript (CryptoJS), PKCS7 padding, base64. Attackers decrypt the leaked
//! `httpd.log` lines with it (CVE-2023-43261), and the login form sends passwords that way.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const KEY: &[u8; 16] = b"1111111111111111";
const IV: &[u8; 16] = b"2222222222222222";

/// Longest base64 password we try to decrypt (a password is short; this bounds the work).
const MAX_ENCRYPTED_LEN: usize = 4096;

/// Encrypts a password as the device's web UI does.
pub fn encrypt_password(plain: &str) -> String {
    let cipher = cbc::Encryptor::<aes::Aes128>::new(KEY.into(), IV.into());
    STANDARD.encode(cipher.encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes()))
}

/// Decrypts a password sent by a client; `None` when it is not valid base64, not a whole
/// number of blocks, badly padded or not UTF-8.
pub fn decrypt_password(encoded: &str) -> Option<String> {
    if encoded.is_empty() || encoded.len() > MAX_ENCRYPTED_LEN {
        return None;
    }
    let bytes = STANDARD.decode(encoded.trim()).ok()?;
    if bytes.is_empty() || bytes.len() % 16 != 0 {
        return None;
    }
    let cipher = cbc::Decryptor::<aes::Aes128>::new(KEY.into(), IV.into());
    let plain = cipher.decrypt_padded_vec_mut::<Pkcs7>(&bytes).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(encoded: &str, expect: Option<&str>) {
        assert_eq!(decrypt_password(encoded).as_deref(), expect, "input {encoded:?}");
    }

    #[test]
    fn decrypts_what_it_encrypts_and_rejects_garbage() {
        check(&encrypt_password("password"), Some("password"));
        check(&encrypt_password(""), Some(""));
        check(&encrypt_password("exactly16bytes!!"), Some("exactly16bytes!!"));
        check("", None);
        check("not base64 !!", None);
        check("AAAA", None);
        check(&"A".repeat(5000), None);
    }

    #[test]
    fn matches_an_independent_implementation() {
        // `printf password | openssl enc -aes-128-cbc -K 3131.. -iv 3232.. | base64`
        assert_eq!(encrypt_password("password"), "sI/7ewBCeWunDs6JXXtSHg==");
    }
}
