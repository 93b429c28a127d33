//! A wrapper for secret strings: zeroized on drop, `***` in `Debug`, masked
//! when serialized (so `custodian config check` can print the configuration).
//! Never implement `Display` for it.

use zeroize::Zeroizing;

#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret value. Call sites are the places a secret is used: keep
    /// them few and never pass the result to a log or a response.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}
