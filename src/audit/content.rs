//! How the content of an action enters the journal.
//!
//! Published content is recorded in full: it is the litigation record of
//! what the organization said. Refused content may hold PHI, so only a keyed
//! digest (HMAC-SHA-256) and what the screen found (rule and position) are
//! recorded, never the text. The digest lets an investigator who holds the
//! text confirm it was the refused post, without the journal revealing it.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::Secret;

/// A screen finding: which rule matched, and where (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScreenFinding {
    pub kind: String,
    pub rule: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "recorded", rename_all = "snake_case")]
pub enum ContentRecord {
    Full { text: String },
    Digest { hmac_sha256: String, length: usize, findings: Vec<ScreenFinding> },
}

/// The key for content digests, derived (HKDF-SHA-256) from the journal's
/// signing key so no further secret has to be managed.
pub struct ContentKey(Zeroizing<[u8; 32]>);

impl ContentKey {
    pub fn derive(signing_key: &Secret) -> ContentKey {
        let hk = Hkdf::<Sha256>::new(Some(b"custodian-audit"), signing_key.expose().as_bytes());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is always a valid HKDF-SHA-256 output length.
        let _ = hk.expand(b"content digest v1", okm.as_mut());
        ContentKey(okm)
    }

    pub fn digest(&self, text: &str) -> String {
        match <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()) {
            Ok(mut mac) => {
                mac.update(text.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }
}

impl From<&crate::domain::Finding> for ScreenFinding {
    fn from(f: &crate::domain::Finding) -> Self {
        ScreenFinding {
            kind: f.kind.as_str().to_owned(),
            rule: f.rule.to_string(),
            start: f.start,
            end: f.end,
        }
    }
}

impl ContentRecord {
    pub fn published(text: &str) -> ContentRecord {
        ContentRecord::Full { text: text.to_owned() }
    }

    pub fn refused(key: &ContentKey, text: &str, findings: Vec<ScreenFinding>) -> ContentRecord {
        ContentRecord::Digest { hmac_sha256: key.digest(text), length: text.len(), findings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_content_is_only_a_keyed_digest() {
        let key = ContentKey::derive(&Secret::new("k1".into()));
        let text = "Patient Jane Roe, MRN 12345, was discharged today";
        let finding = ScreenFinding { kind: "mrn".into(), rule: "phi.mrn".into(), start: 18, end: 27 };
        let record = ContentRecord::refused(&key, text, vec![finding]);
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("Jane") && !json.contains("12345"), "{json}");
        assert!(json.contains("phi.mrn") && json.contains("\"start\":18"));
        // The same text gives the same digest under the same key, another under another key.
        assert_eq!(key.digest(text), ContentKey::derive(&Secret::new("k1".into())).digest(text));
        assert_ne!(key.digest(text), ContentKey::derive(&Secret::new("k2".into())).digest(text));
        let published = serde_json::to_string(&ContentRecord::published("Flu shots on Friday")).unwrap();
        assert!(published.contains("Flu shots on Friday"));
    }
}
