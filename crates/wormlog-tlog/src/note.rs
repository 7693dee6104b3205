//! C2SP signed notes with Ed25519 keys: the text a checkpoint is, and its signature lines.
//!
//! ```text
//!  note      text ending in "\n", a blank line, then one line per signature:
//!            "— " (U+2014, space) key name, space, base64(key id (4 bytes) || signature (64))
//!  key id    the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key), big-endian
//!  verifier  name + "+" + key id (8 hex digits) + "+" + base64(0x01 || public key)
//!  signer    "PRIVATE+KEY+" + name + "+" + key id + "+" + base64(0x01 || private seed)
//! ```
//!
//! The signature covers the text, its final newline included. A note verifies under a key
//! when a signature line names that key (name and id) and its signature checks; lines of
//! other keys are ignored, so a witness may add its own cosignature.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The algorithm byte of an Ed25519 key in the signed-note encodings.
const ED25519: u8 = 0x01;

/// What is wrong with a key, a note or a signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("the key is not a signed-note {0} key: {1}")]
    Key(&'static str, String),
    #[error("the note is malformed: {0}")]
    Malformed(String),
    #[error("the note carries no valid signature by key {0}")]
    Unsigned(String),
}

/// A key name: non-empty, no whitespace and no `+` (the encodings split on it).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(format!(
            "key name {name:?} must be non-empty, without spaces or '+'"
        ));
    }
    Ok(())
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn b64(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text.as_bytes()).ok()
}

/// Splits `name+hash+key` (the verifier encoding, and the signer's after its prefix) and
/// checks the hash against the key.
fn split_key(kind: &'static str, text: &str) -> Result<(String, u32, [u8; 32]), NoteError> {
    let bad = |why: &str| NoteError::Key(kind, why.to_owned());
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected NAME+HASH+KEY"));
    };
    check_name(name).map_err(|e| NoteError::Key(kind, e))?;
    let id = u32::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 8)
        .ok_or_else(|| bad("the hash is not 8 hex digits"))?;
    let raw = unb64(key).ok_or_else(|| bad("the key is not base64"))?;
    match raw.split_first() {
        Some((&ED25519, rest)) if rest.len() == 32 => {
            let mut k = [0u8; 32];
            k.copy_from_slice(rest);
            Ok((name.to_owned(), id, k))
        }
        _ => Err(bad(
            "only Ed25519 keys (algorithm 1, 32 bytes) are supported",
        )),
    }
}

/// A verifier key: checks a note's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses the verifier encoding (`NAME+HASH+BASE64`).
    pub fn parse(text: &str) -> Result<Verifier, NoteError> {
        let (name, id, raw) = split_key("verifier", text)?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| NoteError::Key("verifier", "not an Ed25519 public key".into()))?;
        if key_id(&name, &raw) != id {
            return Err(NoteError::Key(
                "verifier",
                "its hash does not match its key".into(),
            ));
        }
        Ok(Verifier { name, id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier encoding.
    pub fn encode(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, b64(&raw))
    }

    /// The text of `note` if one of its signature lines is this key's and verifies.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (text, sigs) = split_note(note)?;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("— ") else {
                return Err(NoteError::Malformed(format!("signature line {line:?}")));
            };
            let Some((name, sig)) = rest.split_once(' ') else {
                return Err(NoteError::Malformed(format!("signature line {line:?}")));
            };
            let raw = unb64(sig)
                .ok_or_else(|| NoteError::Malformed(format!("signature line {line:?}")))?;
            if name != self.name || raw.len() != 68 || raw[..4] != self.id.to_be_bytes() {
                continue; // another key's line: ignored
            }
            let signature = ed25519_dalek::Signature::from_slice(&raw[4..])
                .map_err(|_| NoteError::Malformed("a signature of the wrong size".into()))?;
            return match self.key.verify_strict(text.as_bytes(), &signature) {
                Ok(()) => Ok(text),
                Err(_) => Err(NoteError::Unsigned(self.name.clone())),
            };
        }
        Err(NoteError::Unsigned(self.name.clone()))
    }
}

/// A note's text (final newline included) and its signature lines.
pub(crate) fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("a control character".into()));
    }
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (text, sigs) = (&note[..at + 1], &note[at + 2..]);
    if !sigs.ends_with('\n') || sigs.trim().is_empty() {
        return Err(NoteError::Malformed("no signature lines".into()));
    }
    Ok((text, sigs))
}

/// A signing key: signs notes. Never printed or logged (its `Debug` shows the name only).
pub struct Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.name)
    }
}

impl Signer {
    /// A new key pair named `name`, from the operating system's random source.
    pub fn generate(name: &str) -> Result<Signer, NoteError> {
        check_name(name).map_err(|e| NoteError::Key("signer", e))?;
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed)
            .map_err(|e| NoteError::Key("signer", format!("no random source: {e}")))?;
        Signer::from_seed(name, seed)
    }

    /// The key pair named `name` whose secret is `seed`: for deterministic tests and tools
    /// (a simulation replaying a seed); real keys come from [`Signer::generate`].
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, NoteError> {
        check_name(name).map_err(|e| NoteError::Key("signer", e))?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses the signer encoding (`PRIVATE+KEY+NAME+HASH+BASE64`).
    pub fn parse(text: &str) -> Result<Signer, NoteError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| {
            NoteError::Key("signer", "it does not start with PRIVATE+KEY+".into())
        })?;
        let (name, id, seed) = split_key("signer", rest)?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(&name, key.verifying_key().as_bytes()) != id {
            return Err(NoteError::Key(
                "signer",
                "its hash does not match its key".into(),
            ));
        }
        Ok(Signer { name, id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signer encoding: the secret, for the key file only.
    pub fn encode(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.id, b64(&raw))
    }

    /// Its verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline and hold no blank line): the note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') || text.contains("\n\n") || text.starts_with('\n') {
            return Err(NoteError::Malformed(
                "a note's text ends in a newline and has no blank line".into(),
            ));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Malformed("a control character".into()));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut raw = self.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!("{text}\n— {} {}\n", self.name, b64(&raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_signed_opens_under_its_verifier_and_no_other() {
        let s = Signer::generate("example.com/log").unwrap();
        let note = s.sign("hello\nworld\n").unwrap();
        let v = Verifier::parse(&s.verifier().encode()).unwrap();
        assert_eq!(v.open(&note).unwrap(), "hello\nworld\n");
        let other = Signer::generate("example.com/log").unwrap().verifier();
        assert_eq!(
            other.open(&note),
            Err(NoteError::Unsigned("example.com/log".into()))
        );
        let changed = note.replacen("world", "worle", 1);
        assert!(v.open(&changed).is_err());
    }

    #[test]
    fn keys_round_trip_and_their_hash_is_checked() {
        let s = Signer::generate("wormlog-test").unwrap();
        let again = Signer::parse(&s.encode()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
        assert!(s.encode().starts_with("PRIVATE+KEY+wormlog-test+"));
        let mut vkey = s.verifier().encode();
        let at = vkey.find('+').unwrap() + 1;
        let flipped = if &vkey[at..at + 1] == "0" { "1" } else { "0" };
        vkey.replace_range(at..at + 1, flipped);
        assert!(Verifier::parse(&vkey).is_err());
        assert!(Signer::generate("bad name").is_err());
        assert!(Verifier::parse("not a key").is_err());
    }

    /// The key encodings and the signature line of the signed-note specification's own
    /// example key (the Go `sumdb/note` package documents this pair), so notes made here open
    /// with the ecosystem's tools.
    #[test]
    fn the_specifications_example_key_parses_and_verifies_its_note() {
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let s = Signer::parse(skey).unwrap();
        assert_eq!(s.verifier().encode(), vkey);
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let note = s.sign(text).unwrap();
        let v = Verifier::parse(vkey).unwrap();
        assert_eq!(v.open(&note).unwrap(), text);
        // Ed25519 signatures are deterministic: the documented signature line.
        assert!(note.ends_with("\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"), "{note}");
    }
}
