//! A checkpoint: the signed statement "this log's first `size` events have this root", in
//! the C2SP tlog-checkpoint text format, plus what it covers in the log.
//!
//! ```text
//!  <origin>                          the log, e.g. wormlog/orders
//!  <size>                            decimal, the number of leaves
//!  <root>                            base64 of the root hash
//!  wormlog-slot <slot>               the slot of the last segment the tree covers
//!  wormlog-write-id <uuid>           the write id of the last valid segment up to it
//!  wormlog-epoch <epoch>             the highest epoch of a valid segment up to it
//!                                    (blank line, then the signature lines: crate::note)
//! ```

use crate::note::{NoteError, Signer, Verifier};
use crate::tree::Hash;

/// A checkpoint's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The slot of the last segment whose events the tree covers (`None`: an empty tree).
    pub slot: Option<u64>,
    /// The write id of the last valid segment up to `slot`, as text.
    pub write_id: Option<String>,
    /// The highest epoch of a valid segment up to `slot`.
    pub epoch: u64,
}

impl Checkpoint {
    /// The note text (unsigned).
    pub fn text(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            base64_simd::STANDARD.encode_to_string(self.root)
        );
        if let Some(slot) = self.slot {
            t.push_str(&format!("wormlog-slot {slot}\n"));
        }
        if let Some(id) = &self.write_id {
            t.push_str(&format!("wormlog-write-id {id}\n"));
        }
        t.push_str(&format!("wormlog-epoch {}\n", self.epoch));
        t
    }

    /// The signed note.
    pub fn sign(&self, signer: &Signer) -> Result<String, NoteError> {
        signer.sign(&self.text())
    }

    /// Opens `note` under `verifier` and parses it: a checkpoint whose signature checks.
    pub fn open(note: &str, verifier: &Verifier) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse(verifier.open(note)?)
    }

    /// Parses the text of a signed `note`, its signatures unchecked (the proof's verifier
    /// checks them): for a prover, which holds no key.
    pub fn parse_unverified(note: &str) -> Result<Checkpoint, NoteError> {
        let (text, _) = crate::note::split_note(note)?;
        Checkpoint::parse(text)
    }

    /// Parses a checkpoint's text, unverified (for messages about a note that does not
    /// verify; never trust what it says).
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: &str| NoteError::Malformed(format!("checkpoint: {why}"));
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("the second line is not a tree size"))?;
        let root = lines
            .next()
            .and_then(|r| base64_simd::STANDARD.decode_to_vec(r.as_bytes()).ok())
            .and_then(|r| <Hash>::try_from(r.as_slice()).ok())
            .ok_or_else(|| bad("the third line is not a base64 SHA-256 root"))?;
        let (mut slot, mut write_id, mut epoch) = (None, None, 0);
        for line in lines {
            if let Some(s) = line.strip_prefix("wormlog-slot ") {
                slot = Some(s.parse().map_err(|_| bad("wormlog-slot is not a slot"))?);
            } else if let Some(id) = line.strip_prefix("wormlog-write-id ") {
                write_id = Some(id.to_owned());
            } else if let Some(e) = line.strip_prefix("wormlog-epoch ") {
                epoch = e
                    .parse()
                    .map_err(|_| bad("wormlog-epoch is not an epoch"))?;
            }
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            slot,
            write_id,
            epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_through_its_signed_note() {
        let s = Signer::generate("wormlog-test").unwrap();
        let c = Checkpoint {
            origin: "wormlog/orders".into(),
            size: 42,
            root: [7; 32],
            slot: Some(17),
            write_id: Some("6a8c3a1e-0000-4000-8000-000000000000".into()),
            epoch: 3,
        };
        let note = c.sign(&s).unwrap();
        assert!(note.starts_with(
            "wormlog/orders\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\nwormlog-slot 17\n"
        ));
        assert_eq!(Checkpoint::open(&note, &s.verifier()).unwrap(), c);
        let forged = note.replacen("\n42\n", "\n41\n", 1);
        assert!(Checkpoint::open(&forged, &s.verifier()).is_err());
    }
}
