//! SCIM bearer tokens. Configuration holds only each token's SHA-256
//! (`sha256:<hex>`); the token itself is shown once, by `custodian scim token`.
//! A 256-bit random token needs no slow hash: nobody can guess its preimage.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::directory::config::ScimConfig;

/// The 32-byte digest a `sha256:<hex>` entry names.
pub fn parse_token_hash(entry: &str) -> Option<[u8; 32]> {
    let hex_part = entry.trim().strip_prefix("sha256:")?;
    let bytes = hex::decode(hex_part).ok()?;
    bytes.try_into().ok()
}

/// The name of the configured token the presented one matches, if any.
/// Every entry is compared in constant time.
pub fn authenticate<'a>(config: &'a ScimConfig, presented: &str) -> Option<&'a str> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for (name, entry) in &config.tokens {
        if let Some(expected) = parse_token_hash(entry) {
            if bool::from(expected.ct_eq(&digest)) && found.is_none() {
                found = Some(name.as_str());
            }
        }
    }
    found
}

/// A new token and its configuration entry.
pub fn generate() -> (String, String) {
    let token = format!("cst_scim_{}", crate::identity::session::random_token());
    let entry = format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())));
    (token, entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_matches_its_entry_and_nothing_else_does() {
        let (token, entry) = generate();
        let (_, other_entry) = generate();
        let mut config = ScimConfig::default();
        config.tokens.insert("okta".into(), entry);
        config.tokens.insert("old".into(), other_entry);
        assert_eq!(authenticate(&config, &token), Some("okta"));
        assert_eq!(authenticate(&config, "cst_scim_guess"), None);
        assert_eq!(authenticate(&config, ""), None);
        assert!(parse_token_hash("sha256:zz").is_none());
        assert!(parse_token_hash("md5:00").is_none());
    }
}
