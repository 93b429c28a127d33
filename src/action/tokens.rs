//! Personal API tokens as the action path issues and ends them: creating
//! one is an action policy decides (`token.create`, which asks for a fresh
//! second factor), recorded before the token exists; a token can only name
//! account actions and existing accounts, for at most 90 days. Managing
//! tokens takes a signed-in session: a token cannot list its owner's other
//! tokens or revoke them (only itself), so a leaked token cannot disarm the
//! others or learn what they are.

use crate::audit::EventKind;
use crate::clock::Timestamp;
use crate::domain::EventId;
use crate::identity::tokens::{TokenScope, MAX_DAYS};
use crate::identity::ApiToken;
use crate::secret::Secret;

use super::{ActionPath, Gated, Refusal, TOKEN_ACTIONS};

/// A token just created: the secret is here and nowhere else.
pub struct Issued {
    pub token: ApiToken,
    pub secret: Secret,
    pub audit_event_id: EventId,
}

const MAX_NAME: usize = 100;

impl ActionPath {
    /// Issues a token to the caller, if policy allows and the scope is sound.
    pub async fn create_token(&self, caller: &Gated<'_>, scope: TokenScope) -> Result<Issued, Refusal> {
        let scope = self.checked(scope).await?;
        let policies = self.permit(caller, "token.create", None).await?;
        let verified_at = caller.mfa_verified_at.ok_or_else(Refusal::mfa_required)?;
        let (secret, token) = self.tokens.mint(&caller.user().id, scope, verified_at, self.clock.now());
        let kind = EventKind::TokenCreated {
            token_id: token.id.to_string(),
            name: token.name.clone(),
            actions: token.actions.clone(),
            accounts: token.accounts.clone(),
            expires_at: token.expires_at,
            policies,
        };
        let recorded = self.journal.record(&caller.meta, caller.actor.clone(), kind).await?;
        self.tokens.insert(&secret, &token).await?;
        Ok(Issued { token, secret, audit_event_id: recorded.event_id })
    }

    /// The scope, cleaned, or why it cannot be.
    async fn checked(&self, mut scope: TokenScope) -> Result<TokenScope, Refusal> {
        scope.name = scope.name.trim().to_owned();
        if scope.name.is_empty()
            || scope.name.chars().count() > MAX_NAME
            || scope.name.chars().any(char::is_control)
        {
            return Err(Refusal::invalid(format!("a token needs a name of 1 to {MAX_NAME} characters")));
        }
        if !(1..=MAX_DAYS).contains(&scope.days) {
            return Err(Refusal::invalid(format!("expires_in_days must be 1 to {MAX_DAYS}")));
        }
        for list in [&mut scope.actions, &mut scope.accounts] {
            list.sort();
            list.dedup();
        }
        if scope.actions.is_empty() || scope.accounts.is_empty() {
            return Err(Refusal::invalid("a token must name at least one action and one account".into()));
        }
        if let Some(bad) = scope.actions.iter().find(|a| !TOKEN_ACTIONS.contains(&a.as_str())) {
            return Err(Refusal::invalid(format!(
                "{bad:?} is not an action a token can take (one of: {})",
                TOKEN_ACTIONS.join(", ")
            )));
        }
        for id in &scope.accounts {
            if self.accounts.get(id).await?.is_none() {
                return Err(Refusal::invalid(format!("there is no account {id:?}")));
            }
        }
        Ok(scope)
    }

    /// The caller's own tokens (never their secrets). Refused to an API token, recorded.
    pub async fn list_tokens(&self, caller: &Gated<'_>) -> Result<Vec<ApiToken>, Refusal> {
        if let Some(token) = caller.token {
            let refusal = Refusal::session_required(token, "token.list");
            return Err(self.refuse(caller, "token.list", "custodian", refusal).await);
        }
        Ok(self.tokens.list(Some(&caller.user().id)).await?)
    }

    /// Revokes a token: its owner's own, or any token for `as_admin`. An
    /// API token may revoke itself and nothing else.
    pub async fn revoke_token(
        &self,
        caller: &Gated<'_>,
        id: &str,
        as_admin: bool,
    ) -> Result<(ApiToken, EventId), Refusal> {
        if let Some(token) = caller.token.filter(|t| t.id != id) {
            let refusal = Refusal::session_required(token, "token.revoke");
            return Err(self.refuse(caller, "token.revoke", "custodian", refusal).await);
        }
        let found = self.tokens.get(id).await?;
        let token = found
            .filter(|t| as_admin || t.user_id == caller.user().id)
            .ok_or_else(|| Refusal::not_found(format!("you have no API token {id:?}")))?;
        if token.revoked_at.is_some() {
            return Err(Refusal::conflict(format!("API token {id} is already revoked")));
        }
        let kind = EventKind::TokenRevoked {
            token_id: token.id.to_string(),
            owner: token.user_id.clone(),
            by: caller.user().id.clone(),
        };
        let recorded = self.journal.record(&caller.meta, caller.actor.clone(), kind).await?;
        let now: Timestamp = self.clock.now();
        self.tokens.revoke(&token.id, &caller.user().id, now).await?;
        let token = ApiToken { revoked_at: Some(now), revoked_by: Some(caller.user().id.clone()), ..token };
        Ok((token, recorded.event_id))
    }
}
