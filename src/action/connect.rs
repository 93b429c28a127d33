//! Connecting and disconnecting the organization's accounts: administration
//! that calls platforms, so it takes the path too. Policy decides first
//! (`account.connect`, `account.disconnect`; a refusal is recorded), and
//! only its permit reaches the connector, which no other module holds. The
//! connector records its intent before it calls a platform (fail closed:
//! no record, no call), and the outcome after.

use crate::audit::ChangedBy;
use crate::domain::{Account, PolicyAction};
use crate::platforms::connect::{ConnectError, ConnectRequest, Connector, Disconnected, Started};
use crate::secret::Secret;

use super::{ActionPath, Gated, Refusal};

/// Why a connection or disconnection did not happen: policy (or the
/// journal) refused, or the connector or platform did.
#[derive(Debug)]
pub enum AdminError {
    Refused(Refusal),
    Connect(ConnectError),
}

impl From<Refusal> for AdminError {
    fn from(r: Refusal) -> Self {
        AdminError::Refused(r)
    }
}

impl From<ConnectError> for AdminError {
    fn from(e: ConnectError) -> Self {
        AdminError::Connect(e)
    }
}

/// Policy's leave to connect accounts, and what it lets the caller do.
/// Only [`ActionPath::permit_connect`] makes one.
pub struct ConnectPermit<'a> {
    connector: &'a Connector,
    by: ChangedBy,
}

/// Policy's leave to disconnect one account. Only
/// [`ActionPath::permit_disconnect`] makes one.
pub struct DisconnectPermit<'a> {
    connector: &'a Connector,
    by: ChangedBy,
    account: Account,
}

impl ActionPath {
    /// Whether policy lets `caller` connect accounts; a refusal is recorded.
    pub async fn permit_connect(&self, caller: &Gated<'_>) -> Result<ConnectPermit<'_>, Refusal> {
        self.permit(caller, PolicyAction::AccountConnect.as_str(), None).await?;
        Ok(ConnectPermit { connector: &self.connector, by: changed_by(caller) })
    }

    /// Whether policy lets `caller` disconnect the account; a refusal (an
    /// account that does not exist, too) is recorded.
    pub async fn permit_disconnect(
        &self,
        caller: &Gated<'_>,
        account_id: &str,
    ) -> Result<DisconnectPermit<'_>, AdminError> {
        let action = PolicyAction::AccountDisconnect.as_str();
        let Some(account) = self.accounts.get(account_id).await.map_err(ConnectError::from)? else {
            // Recorded like every refusal, so asking after accounts leaves a trace.
            let mut refusal = Refusal::unknown_account(account_id);
            refusal.remedy = "List the accounts at GET /api/v1/admin/accounts.".into();
            return Err(self.refuse(caller, action, account_id, refusal).await.into());
        };
        self.permit(caller, action, Some(&account)).await?;
        Ok(DisconnectPermit { connector: &self.connector, by: changed_by(caller), account })
    }

    /// Disconnects for the host's operator at the command line, who holds
    /// the database and the keys and so answers to no policy; recorded as
    /// `by` (`cli:<login>`) like every change.
    pub async fn disconnect_as_operator(
        &self,
        account_id: &str,
        by: &ChangedBy,
    ) -> Result<Disconnected, ConnectError> {
        self.connector.disconnect(account_id, by).await
    }
}

impl ConnectPermit<'_> {
    /// Starts connecting an OAuth platform's account: where to send the browser.
    pub async fn start(&self, request: ConnectRequest) -> Result<Started, ConnectError> {
        self.connector.start(request, &self.by).await
    }

    /// Finishes the connection the platform sent the browser back for.
    pub async fn finish(&self, state: &str, outcome: Result<&str, String>) -> Result<Account, ConnectError> {
        self.connector.finish(state, outcome, &self.by).await
    }

    /// Connects a Bluesky account with an app password.
    pub async fn bluesky(
        &self,
        identifier: &str,
        app_password: &Secret,
        tags: &[String],
    ) -> Result<Account, ConnectError> {
        self.connector.connect_bluesky(identifier, app_password, tags, &self.by).await
    }
}

impl DisconnectPermit<'_> {
    /// Revokes at the platform where it can, and disconnects the account.
    pub async fn disconnect(self) -> Result<Disconnected, ConnectError> {
        self.connector.disconnect(&self.account.id, &self.by).await
    }
}

/// The caller as the author of a change.
fn changed_by(caller: &Gated<'_>) -> ChangedBy {
    ChangedBy { actor: caller.actor.clone(), name: caller.user().id.clone(), meta: caller.meta.clone() }
}
