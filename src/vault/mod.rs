//! Encryption of data at rest. Owns the key ring; later also the platform
//! credential store. Must never return, log or serialize decrypted material
//! outside the caller that asked for it.

mod keyring;

pub use keyring::{KeyRing, KeyRingError, SealError};
