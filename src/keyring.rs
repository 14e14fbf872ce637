//! Secrets at rest: provider credentials and tool secrets are stored sealed with AES-256-GCM
//! (ring), as `tp1:{key id}:{base64 of nonce and ciphertext}`. The key comes from
//! `TENANTPILOT_SECRET_KEY` (base64, 32 bytes; several comma-separated while rotating, the first
//! current) or from a key file (`data/secret.key` by default, beside the SQLite database),
//! created with mode 0600 on first start. Every key listed can open; only the first seals.

use crate::CoreError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use std::path::Path;

const PREFIX: &str = "tp1:";
const KEY_LEN: usize = 32;

/// What a sealed value is: sealed for one purpose, it does not open as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ProviderCredential,
    ToolSecrets,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::ProviderCredential => b"tenantpilot provider credential",
            Purpose::ToolSecrets => b"tenantpilot tool secrets",
        }
    }
}

struct Key {
    id: String,
    key: LessSafeKey,
    raw: [u8; KEY_LEN],
}

/// The keys that open sealed secrets; the first seals new ones.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

fn key(raw: [u8; KEY_LEN]) -> Key {
    let id = Sha256::digest(raw).iter().take(4).map(|byte| format!("{byte:02x}")).collect();
    let unbound =
        UnboundKey::new(&AES_256_GCM, &raw).unwrap_or_else(|_| unreachable!("32 bytes is an AES-256 key"));
    Key { id, key: LessSafeKey::new(unbound), raw }
}

/// A fresh random key, base64.
pub fn generate_key() -> String {
    let mut raw = [0u8; KEY_LEN];
    SystemRandom::new().fill(&mut raw).unwrap_or_else(|_| panic!("the system has no randomness"));
    STANDARD.encode(raw)
}

fn sealed_error(reason: &str) -> CoreError {
    CoreError::broken(format!("a stored secret cannot be opened: {reason}"))
}

impl Keyring {
    /// Keys from base64 text, comma- or line-separated, current first.
    pub fn parse(keys: &str) -> Result<Keyring, String> {
        let keys: Vec<Key> = keys
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(|encoded| {
                let raw = STANDARD.decode(encoded).map_err(|_| "a secret key is not base64".to_string())?;
                let raw: [u8; KEY_LEN] = raw
                    .try_into()
                    .map_err(|_| format!("a secret key is {KEY_LEN} bytes (base64 of them)"))?;
                Ok(key(raw))
            })
            .collect::<Result<_, String>>()?;
        if keys.is_empty() {
            return Err("no secret key given".into());
        }
        Ok(Keyring { keys })
    }

    /// The keyring from `TENANTPILOT_SECRET_KEY` when given, else from `file`, which is created
    /// (mode 0600) with a new key when missing.
    pub fn load(from_env: Option<&str>, file: &Path) -> Result<Keyring, String> {
        if let Some(keys) = from_env.filter(|keys| !keys.trim().is_empty()) {
            return Keyring::parse(keys).map_err(|error| format!("TENANTPILOT_SECRET_KEY: {error}"));
        }
        if !file.exists() {
            write_key_file(file, &[generate_key()])?;
            tracing::info!(file = %file.display(), "created a new secret key file");
        }
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
        Keyring::parse(&text).map_err(|error| format!("{}: {error}", file.display()))
    }

    /// One new random key, for tests and first starts.
    pub fn random() -> Keyring {
        Keyring::parse(&generate_key()).unwrap_or_else(|_| unreachable!("a generated key parses"))
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// The keys, base64, current first: what a key file holds.
    pub fn encoded(&self) -> Vec<String> {
        self.keys.iter().map(|key| STANDARD.encode(key.raw)).collect()
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// Seals `plain` under the current key.
    pub fn seal(&self, purpose: Purpose, plain: &str) -> Result<String, CoreError> {
        let current = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| sealed_error("no randomness for a nonce"))?;
        let mut sealed = plain.as_bytes().to_vec();
        current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.aad()),
                &mut sealed,
            )
            .map_err(|_| sealed_error("sealing failed"))?;
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}:{}", current.id, STANDARD.encode(payload)))
    }

    /// Opens a sealed value with the key it names. A value stored before secrets were sealed
    /// reads as it is (start-up seals those).
    pub fn open(&self, purpose: Purpose, stored: &str) -> Result<String, CoreError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let (id, payload) = rest.split_once(':').ok_or_else(|| sealed_error("malformed"))?;
        let key = self
            .keys
            .iter()
            .find(|key| key.id == id)
            .ok_or_else(|| sealed_error("sealed under a key not given"))?;
        let mut payload = STANDARD.decode(payload).map_err(|_| sealed_error("not base64"))?;
        if payload.len() < NONCE_LEN {
            return Err(sealed_error("too short"));
        }
        let mut sealed = payload.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&payload).map_err(|_| sealed_error("bad nonce"))?;
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(purpose.aad()), &mut sealed)
            .map_err(|_| sealed_error("does not open (altered, or sealed for another purpose)"))?;
        String::from_utf8(plain.to_vec()).map_err(|_| sealed_error("not text"))
    }
}

/// Writes a key file readable by its owner only.
pub fn write_key_file(file: &Path, keys: &[String]) -> Result<(), String> {
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    }
    let text = format!(
        "# TenantPilot's secret keys (base64, AES-256): the first seals, every one opens.\n{}\n",
        keys.join("\n")
    );
    let temporary = file.with_extension("key.new");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options
            .open(&temporary)
            .map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
        out.write_all(text.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
    }
    std::fs::rename(&temporary, file).map_err(|error| format!("cannot replace {}: {error}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_and_purpose_only() {
        let ring = Keyring::random();
        let sealed = ring.seal(Purpose::ToolSecrets, "hunter2").unwrap();
        assert!(sealed.starts_with(&format!("tp1:{}:", ring.current_id())) && !sealed.contains("hunter2"));
        assert_ne!(sealed, ring.seal(Purpose::ToolSecrets, "hunter2").unwrap(), "a fresh nonce each time");
        assert_eq!(ring.open(Purpose::ToolSecrets, &sealed).unwrap(), "hunter2");
        assert!(ring.open(Purpose::ProviderCredential, &sealed).is_err(), "sealed for one purpose only");
        assert!(
            Keyring::random().open(Purpose::ToolSecrets, &sealed).is_err(),
            "another key does not open it"
        );
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open(Purpose::ToolSecrets, &altered).is_err());
        assert_eq!(ring.open(Purpose::ToolSecrets, "plain, from before").unwrap(), "plain, from before");
    }

    #[test]
    fn every_listed_key_opens_and_the_first_seals() {
        let old = Keyring::random();
        let sealed = old.seal(Purpose::ProviderCredential, "s3cret").unwrap();
        let both = Keyring::parse(&format!("{},{}", generate_key(), old.encoded()[0])).unwrap();
        assert_eq!(both.open(Purpose::ProviderCredential, &sealed).unwrap(), "s3cret");
        assert_ne!(both.current_id(), old.current_id());
        assert!(
            Keyring::parse("not base64!").is_err() && Keyring::parse(&STANDARD.encode([1u8; 16])).is_err()
        );
    }

    #[test]
    fn a_missing_key_file_is_created_for_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("tenantpilot-keyring-{}", std::process::id()));
        let file = dir.join("secret.key");
        let _ = std::fs::remove_dir_all(&dir);
        let first = Keyring::load(None, &file).unwrap();
        let again = Keyring::load(None, &file).unwrap();
        assert_eq!(first.current_id(), again.current_id(), "created once, then read");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let from_env = Keyring::load(Some(&generate_key()), &file).unwrap();
        assert_ne!(from_env.current_id(), first.current_id(), "the environment wins");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
