//! Who someone is: their user record and the identity the IdP vouched for,
//! server-side sessions, the TOTP second factor and its enrollment links,
//! API tokens, and the OIDC client. It knows nothing of the directory gate
//! or of policy (those sit above it).

mod config;
pub mod invites;
pub mod known;
pub mod mfa;
pub mod oidc;
pub mod recheck;
pub mod session;
pub mod tokens;
pub mod users;

pub use config::{EnrollmentMode, MfaConfig, OidcConfig, SessionConfig, INVITE_TTL_BOUNDS};
pub use invites::{InviteRefusal, Invites};
pub use mfa::{Enrollment, FactorState, Method, Mfa, MfaError};
pub use oidc::{Oidc, OidcError};
pub use recheck::{OwnerCheck, OwnerRecheck};
pub use session::{Session, SessionError, SessionId, Sessions};
pub use tokens::{ApiToken, Presented, Tokens, Unusable};
pub use users::{User, Users, VerifiedIdentity};
