//! Encryption of data at rest: the key ring, the sealed platform
//! credentials, and the checks and rotation that span everything sealed.
//! Must never return, log or serialize decrypted material outside the
//! caller that asked for it.

pub mod credentials;
mod keyring;
pub mod sealed;

pub use credentials::{Credentials, VaultError};
pub use keyring::{KeyRing, KeyRingConfig, KeyRingError, SealError};
