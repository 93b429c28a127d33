//! OAuth 2.0 token responses as platforms really send them. RFC 6749 §5.1
//! requires `token_type`; LinkedIn leaves it out, and lists its scopes
//! comma-separated. This response type accepts both (a missing type is
//! `bearer`, the only type these platforms issue) and is what every
//! `oauth2` client here deserializes into.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{AccessToken, RefreshToken, Scope, StandardRevocableToken, TokenResponse};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Deserialize, Serialize)]
pub struct OAuthTokens {
    access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "token_type")]
    token_type: BasicTokenType,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, rename = "scope", deserialize_with = "scopes")]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn token_type<'de, D: Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let raw = String::deserialize(d)?;
    Ok(match raw.to_ascii_lowercase().as_str() {
        "bearer" => BasicTokenType::Bearer,
        "mac" => BasicTokenType::Mac,
        other => BasicTokenType::Extension(other.to_owned()),
    })
}

/// Space- (RFC 6749) or comma-separated (LinkedIn, Instagram).
fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.map(|s| s.split([' ', ',']).filter(|s| !s.is_empty()).map(|s| Scope::new(s.to_owned())).collect()))
}

impl TokenResponse for OAuthTokens {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// An `oauth2` client reading [`OAuthTokens`], with the endpoints set as `A` (authorize) and `T` (token).
pub type Client<A, T> = oauth2::Client<
    BasicErrorResponse,
    OAuthTokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    A,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    T,
>;

/// A client with no endpoints set yet.
pub fn client(id: oauth2::ClientId) -> Client<oauth2::EndpointNotSet, oauth2::EndpointNotSet> {
    oauth2::Client::new(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_platforms_send() {
        let linkedin: OAuthTokens =
            serde_json::from_str(r#"{"access_token":"a","expires_in":5184000,"scope":"r_x,w_y"}"#).unwrap();
        assert_eq!(linkedin.token_type, BasicTokenType::Bearer);
        let scopes: Vec<String> = linkedin.scopes().unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(scopes, ["r_x", "w_y"]);
        let mastodon: OAuthTokens =
            serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer","scope":"read write"}"#)
                .unwrap();
        assert_eq!(mastodon.scopes().unwrap().len(), 2);
        assert!(
            serde_json::from_str::<OAuthTokens>(r#"{"token_type":"bearer"}"#).is_err(),
            "a token is required"
        );
    }
}
