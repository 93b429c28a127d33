//! `[platforms]`: the OAuth apps the organization registered with each
//! platform, and where each platform's API lives. A platform without a
//! section cannot be connected (sandbox accounts need none). Every URL has
//! the platform's real default; tests point them at fakes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::secret::Secret;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformsConfig {
    /// Where platforms send the admin's browser back after consent
    /// (`https://HOST/connect/callback`); by default beside `oidc.redirect_url`.
    pub redirect_url: Option<Url>,
    pub x: Option<OAuthApp>,
    pub facebook: Option<OAuthApp>,
    pub instagram: Option<OAuthApp>,
    pub linkedin: Option<OAuthApp>,
    /// One instance per deployment; `api_base` (the instance) is required.
    pub mastodon: Option<OAuthApp>,
    pub bluesky: Option<BlueskyConfig>,
}

/// An OAuth 2.0 client registered with a platform.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    #[serde(skip_serializing)]
    pub client_secret_file: Option<PathBuf>,
    /// The API the adapter calls (e.g. `https://api.x.com`, `https://graph.facebook.com/v21.0`,
    /// `https://graph.instagram.com/v21.0`, a Mastodon instance).
    pub api_base: Option<Url>,
    pub authorize_url: Option<Url>,
    pub token_url: Option<Url>,
    /// Where a disconnect revokes the token (platforms that offer it).
    pub revoke_url: Option<Url>,
    /// LinkedIn's `YYYYMM` API version.
    pub api_version: Option<String>,
    /// LinkedIn: the origin its image upload URLs may point at (the token
    /// goes there); `https://www.linkedin.com` for the real API.
    pub upload_origin: Option<Url>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlueskyConfig {
    /// The PDS accounts live on; `https://bsky.social` when not given.
    pub pds: Option<Url>,
}

impl BlueskyConfig {
    pub fn pds(&self) -> Result<Url, String> {
        parse(&self.pds, "https://bsky.social")
    }
}

/// The configured URL, or the platform's own.
fn parse(set: &Option<Url>, default: &str) -> Result<Url, String> {
    match set {
        Some(u) => Ok(u.clone()),
        None => Url::parse(default).map_err(|e| format!("{default}: {e}")),
    }
}

/// A platform's endpoints, with defaults filled in.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub api_base: Url,
    pub authorize_url: Url,
    pub token_url: Url,
    pub revoke_url: Option<Url>,
}

/// The Graph API version used when `api_base` is not given.
pub const GRAPH_VERSION: &str = "v21.0";
/// The LinkedIn API version used when `api_version` is not given.
pub const LINKEDIN_VERSION: &str = "202511";

impl OAuthApp {
    /// Endpoints for `platform`, each the configured one or the platform's own.
    pub fn endpoints(&self, platform: &str) -> Result<Endpoints, String> {
        let graph = format!("https://graph.facebook.com/{GRAPH_VERSION}");
        let (api, authorize, token, revoke) = match platform {
            "x" => (
                "https://api.x.com".to_owned(),
                "https://x.com/i/oauth2/authorize".to_owned(),
                "https://api.x.com/2/oauth2/token".to_owned(),
                Some("https://api.x.com/2/oauth2/revoke".to_owned()),
            ),
            "facebook" => (
                graph.clone(),
                format!("https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth"),
                format!("{graph}/oauth/access_token"),
                None,
            ),
            "instagram" => (
                format!("https://graph.instagram.com/{GRAPH_VERSION}"),
                "https://www.instagram.com/oauth/authorize".to_owned(),
                "https://api.instagram.com/oauth/access_token".to_owned(),
                None,
            ),
            "linkedin" => (
                "https://api.linkedin.com/rest".to_owned(),
                "https://www.linkedin.com/oauth/v2/authorization".to_owned(),
                "https://www.linkedin.com/oauth/v2/accessToken".to_owned(),
                Some("https://www.linkedin.com/oauth/v2/revoke".to_owned()),
            ),
            "mastodon" => {
                let instance = self.api_base.as_ref().ok_or(
                    "platforms.mastodon.api_base (the instance, e.g. https://mastodon.social) is required",
                )?;
                let at = |path: &str| instance.join(path).map(|u| u.to_string()).map_err(|e| e.to_string());
                (
                    instance.to_string(),
                    at("/oauth/authorize")?,
                    at("/oauth/token")?,
                    Some(at("/oauth/revoke")?),
                )
            }
            other => return Err(format!("{other} is not a platform Custodian connects by OAuth")),
        };
        let revoke_url = match (&self.revoke_url, revoke) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(r)) => Some(parse(&None, &r)?),
            (None, None) => None,
        };
        Ok(Endpoints {
            api_base: parse(&self.api_base, &api)?,
            authorize_url: parse(&self.authorize_url, &authorize)?,
            token_url: parse(&self.token_url, &token)?,
            revoke_url,
        })
    }

    pub fn linkedin_version(&self) -> String {
        self.api_version.clone().unwrap_or_else(|| LINKEDIN_VERSION.to_owned())
    }
}

/// How the platform's token endpoint wants the client's credentials: X takes
/// HTTP Basic; Facebook, Instagram, LinkedIn and Mastodon document them in the form.
pub fn credentials_in_body(platform: &str) -> bool {
    platform != "x"
}

impl PlatformsConfig {
    /// The OAuth app configured for `platform`, if any.
    pub fn app(&self, platform: &str) -> Option<&OAuthApp> {
        match platform {
            "x" => self.x.as_ref(),
            "facebook" => self.facebook.as_ref(),
            "instagram" => self.instagram.as_ref(),
            "linkedin" => self.linkedin.as_ref(),
            "mastodon" => self.mastodon.as_ref(),
            _ => None,
        }
    }

    fn apps_mut(&mut self) -> impl Iterator<Item = (&'static str, &mut OAuthApp)> {
        [
            ("x", self.x.as_mut()),
            ("facebook", self.facebook.as_mut()),
            ("instagram", self.instagram.as_mut()),
            ("linkedin", self.linkedin.as_mut()),
            ("mastodon", self.mastodon.as_mut()),
        ]
        .into_iter()
        .filter_map(|(name, app)| app.map(|a| (name, a)))
    }

    /// Each app's `client_secret_file`, read into its `client_secret`.
    pub fn secret_files(&mut self) -> Vec<(String, PathBuf, &mut Option<Secret>)> {
        self.apps_mut()
            .filter_map(|(name, app)| {
                let path = app.client_secret_file.take()?;
                Some((format!("platforms.{name}.client_secret_file"), path, &mut app.client_secret))
            })
            .collect()
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let named = [
            ("x", &self.x),
            ("facebook", &self.facebook),
            ("instagram", &self.instagram),
            ("linkedin", &self.linkedin),
            ("mastodon", &self.mastodon),
        ];
        for (name, app) in named {
            let Some(app) = app else { continue };
            if app.client_id.is_empty() {
                problems.push(format!("platforms.{name}.client_id is required"));
            }
            if app.client_secret.is_none() && name != "x" {
                // X public clients (PKCE, no secret) are allowed; the others need one.
                problems.push(format!("platforms.{name}.client_secret (or client_secret_file) is required"));
            }
            match app.endpoints(name) {
                Err(e) => problems.push(e),
                Ok(e) => {
                    let mut urls = vec![("api_base", &e.api_base), ("authorize_url", &e.authorize_url)];
                    urls.push(("token_url", &e.token_url));
                    urls.extend(e.revoke_url.as_ref().map(|u| ("revoke_url", u)));
                    for (key, u) in urls {
                        crate::domain::check_https_or_loopback(
                            &format!("platforms.{name}.{key}"),
                            u,
                            &mut problems,
                        );
                    }
                }
            }
            if let Some(u) = &app.upload_origin {
                crate::domain::check_https_or_loopback(
                    &format!("platforms.{name}.upload_origin"),
                    u,
                    &mut problems,
                );
            }
            if let Some(v) = &app.api_version {
                if v.len() != 6 || !v.chars().all(|c| c.is_ascii_digit()) {
                    problems.push(format!("platforms.{name}.api_version must be YYYYMM, got {v:?}"));
                }
            }
        }
        if let Some(b) = &self.bluesky {
            match b.pds() {
                Ok(pds) => {
                    crate::domain::check_https_or_loopback("platforms.bluesky.pds", &pds, &mut problems)
                }
                Err(e) => problems.push(e),
            }
        }
        if let Some(u) = &self.redirect_url {
            crate::domain::check_https_or_loopback("platforms.redirect_url", u, &mut problems);
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(api_base: Option<&str>) -> OAuthApp {
        OAuthApp {
            client_id: "id".into(),
            client_secret: Some(Secret::new("secret".into())),
            api_base: api_base.map(|u| Url::parse(u).unwrap()),
            ..OAuthApp::default()
        }
    }

    #[test]
    fn each_platform_gets_its_own_endpoints_unless_configured() {
        let x = app(None).endpoints("x").unwrap();
        assert_eq!(x.api_base.as_str(), "https://api.x.com/");
        assert_eq!(x.token_url.as_str(), "https://api.x.com/2/oauth2/token");
        let m = app(Some("https://mastodon.example")).endpoints("mastodon").unwrap();
        assert_eq!(m.authorize_url.as_str(), "https://mastodon.example/oauth/authorize");
        assert_eq!(m.revoke_url.unwrap().as_str(), "https://mastodon.example/oauth/revoke");
        assert!(app(None).endpoints("facebook").unwrap().revoke_url.is_none());
    }

    #[test]
    fn problems_name_the_key_to_fix() {
        let config = PlatformsConfig {
            x: Some(OAuthApp { client_secret: None, ..app(Some("http://api.example")) }),
            mastodon: Some(app(None)),
            linkedin: Some(OAuthApp { api_version: Some("2025-11".into()), ..app(None) }),
            facebook: Some(OAuthApp { client_secret: None, ..app(None) }),
            ..PlatformsConfig::default()
        };
        let problems = config.problems().join("\n");
        assert!(problems.contains("platforms.x.api_base must be an https:// URL"), "{problems}");
        assert!(!problems.contains("platforms.x.client_secret"), "X allows public (PKCE) clients");
        assert!(problems.contains("platforms.mastodon.api_base (the instance"), "{problems}");
        assert!(problems.contains("platforms.linkedin.api_version must be YYYYMM"), "{problems}");
        assert!(problems.contains("platforms.facebook.client_secret (or client_secret_file) is required"));
        assert!(PlatformsConfig::default().problems().is_empty());
    }
}
