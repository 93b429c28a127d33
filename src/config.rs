//! Typed configuration, validated once at start-up.
//!
//! Layers, each overriding the one before: built-in defaults, then the TOML
//! file (`custodian.toml`, or `--config`), then `CUSTODIAN_*` environment
//! variables (`__` separates nesting levels: `CUSTODIAN_OIDC__CLIENT_ID`), then
//! the command-line overrides, then every secret's file variant
//! (`client_secret_file`, `CUSTODIAN_OIDC__CLIENT_SECRET_FILE`, `keys.ring_files`).
//! Unknown keys are an error that names the key. This module never logs a
//! secret: secrets are [`Secret`]s and serialize masked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::audit::AuditConfig;
use crate::identity::{MfaConfig, OidcConfig, SessionConfig};
use crate::secret::Secret;
use crate::telemetry::LogConfig;
use crate::vault::KeyRingConfig;

/// Environment variables with the `CUSTODIAN_` prefix that are not
/// configuration keys: the config-file path and the test harness's variables.
const NON_CONFIG_ENV: &[&str] = &["config"];
const TEST_ENV_PREFIX: &str = "test_";

/// Whether a `CUSTODIAN_*` variable (named without the prefix, lower case)
/// belongs to someone else and is not configuration: the test harness's and
/// the development scripts' own (`CUSTODIAN_TEST_*`, `CUSTODIAN_DEV_*`), and
/// the service links Kubernetes injects into every pod for a Service named
/// `custodian` (`CUSTODIAN_PORT`, `CUSTODIAN_PORT_8080_TCP_ADDR`,
/// `CUSTODIAN_SERVICE_HOST`, `CUSTODIAN_SERVICE_PORT_HTTP`, ...). Ignoring
/// them never hides a configuration key: every key below the top level is
/// named with `__`, and no top-level key is `port`, `service_*` or `dev_*`
/// (a unit test checks it).
fn is_foreign_env(key: &str) -> bool {
    NON_CONFIG_ENV.contains(&key)
        || key.starts_with(TEST_ENV_PREFIX)
        || key.starts_with("dev_")
        || key == "port"
        || key.starts_with("port_")
        || key == "service_host"
        || key == "service_port"
        || key.starts_with("service_port_")
        || sibling_service_link(key)
}

/// Kubernetes also injects the links of every other Service in the namespace:
/// one named `custodian-metrics` gives `CUSTODIAN_METRICS_SERVICE_HOST`,
/// `CUSTODIAN_METRICS_PORT_9090_TCP` and so on. Configuration keys below the
/// top level always hold `__`, and no top-level key ends like these.
fn sibling_service_link(key: &str) -> bool {
    !key.contains("__")
        && (key.ends_with("_service_host")
            || key.contains("_service_port")
            || key.ends_with("_port")
            || key.contains("_port_"))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("cannot read {key} from {path}: {reason}")]
    SecretFile { key: String, path: PathBuf, reason: String },
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: ListenAddr,
    /// Directory for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub tls: TlsConfig,
    pub oidc: OidcConfig,
    pub session: SessionConfig,
    pub mfa: MfaConfig,
    pub keys: KeyRingConfig,
    pub audit: AuditConfig,
    pub directory: crate::directory::DirectoryConfig,
    pub training: crate::directory::TrainingConfig,
    pub platforms: crate::platforms::config::PlatformsConfig,
    pub policy: crate::policy::PolicyConfig,
    pub breakglass: crate::breakglass::BreakglassConfig,
    /// The review queue: expiry, approvals per account tag.
    pub review: crate::queue::ReviewConfig,
    /// Inbound moderation: the poller, and the webhook for posts made outside Custodian.
    pub moderation: crate::moderation::ModerationConfig,
    pub metrics: MetricsConfig,
}

/// `[metrics]`: who may read `/metrics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` on this address only, not on `listen`. Empty: on `listen`.
    pub listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer <token>` to read `/metrics`.
    pub bearer_token: Option<Secret>,
    #[serde(skip_serializing)]
    pub bearer_token_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: ListenAddr::default(),
            data_dir: PathBuf::from("data"),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            oidc: OidcConfig::default(),
            session: SessionConfig::default(),
            mfa: MfaConfig::default(),
            keys: KeyRingConfig::default(),
            audit: AuditConfig::default(),
            directory: crate::directory::DirectoryConfig::default(),
            training: crate::directory::TrainingConfig::default(),
            platforms: crate::platforms::config::PlatformsConfig::default(),
            policy: crate::policy::PolicyConfig::default(),
            breakglass: crate::breakglass::BreakglassConfig::default(),
            review: crate::queue::ReviewConfig::default(),
            moderation: crate::moderation::ModerationConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ListenAddr(pub SocketAddr);

impl Default for ListenAddr {
    fn default() -> Self {
        ListenAddr(SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`. Empty: a SQLite file in `data_dir`.
    pub url: Option<DatabaseUrl>,
    #[serde(skip_serializing)]
    pub url_file: Option<PathBuf>,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: None, url_file: None, max_connections: 10 }
    }
}

/// A database URL; its password is masked when serialized.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(Secret);

impl DatabaseUrl {
    pub fn new(url: String) -> Self {
        DatabaseUrl(Secret::new(url))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    pub fn masked(&self) -> String {
        match Url::parse(self.expose()) {
            Ok(mut url) if url.password().is_some() => {
                // set_password only fails for URLs that cannot carry one.
                let _ = url.set_password(Some("********"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "********".to_owned(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest body passed through `/proxy/` (media uploads), in bytes.
    pub proxy_body_limit_bytes: usize,
    /// Requests taking longer are answered 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Time given to in-flight requests after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Mark cookies `Secure`. Only turn off for plain-HTTP development.
    pub cookie_secure: bool,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed
    /// for the client address recorded in audit events. Empty: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sign-ins (`/auth/login`) one client address may start per minute; more get 429.
    pub sign_ins_per_minute: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit_bytes: 1024 * 1024,
            proxy_body_limit_bytes: 5 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            cookie_secure: true,
            trusted_proxies: Vec::new(),
            sign_ins_per_minute: 60,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. With `key_file`, Custodian serves HTTPS itself.
    pub cert_file: Option<PathBuf>,
    /// PEM private key.
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }
}

/// Command-line values that override every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
}

impl Config {
    /// Loads every layer, resolves secret files and validates.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match &overrides.config_file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.clone())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("custodian.toml")),
        }
        let env = Env::prefixed("CUSTODIAN_")
            .filter(|key| !is_foreign_env(&key.as_str().to_ascii_lowercase()))
            .split("__");
        figment = figment.merge(env);
        if let Some(listen) = overrides.listen {
            figment = figment.merge(Serialized::default("listen", listen));
        }
        if let Some(db) = &overrides.database {
            figment = figment.merge(Serialized::default("database.url", db));
        }
        let mut config: Config =
            figment.extract().map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    /// Reads each `*_file` secret into its value: the file variant wins.
    pub fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = self.database.url_file.take() {
            self.database.url = Some(DatabaseUrl::new(read_secret_file("database.url_file", &path)?));
        }
        if let Some(path) = self.oidc.client_secret_file.take() {
            self.oidc.client_secret = Some(Secret::new(read_secret_file("oidc.client_secret_file", &path)?));
        }
        if let Some(path) = self.audit.signing_key_file.take() {
            self.audit.signing_key = Some(Secret::new(read_secret_file("audit.signing_key_file", &path)?));
        }
        if let Some(path) = self.metrics.bearer_token_file.take() {
            self.metrics.bearer_token =
                Some(Secret::new(read_secret_file("metrics.bearer_token_file", &path)?));
        }
        if let Some(webhook) = self.audit.stream.webhook.as_mut() {
            if let Some(path) = webhook.bearer_token_file.take() {
                let token = read_secret_file("audit.stream.webhook.bearer_token_file", &path)?;
                webhook.bearer_token = Some(Secret::new(token));
            }
        }
        for (name, path) in std::mem::take(&mut self.directory.scim.token_files) {
            let value = read_secret_file(&format!("directory.scim.token_files.{name}"), &path)?;
            self.directory.scim.tokens.insert(name, value);
        }
        for (key, path, secret) in self.platforms.secret_files() {
            *secret = Some(Secret::new(read_secret_file(&key, &path)?));
        }
        for (id, path) in std::mem::take(&mut self.keys.ring_files) {
            let value = read_secret_file(&format!("keys.ring_files.{id}"), &path)?;
            self.keys.ring.insert(id, Secret::new(value));
        }
        Ok(())
    }

    /// Checks everything that can be checked without the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Some(url) = &self.database.url {
            let u = url.expose();
            if !(u.starts_with("sqlite:") || u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                problems
                    .push("database.url must start with sqlite:, postgres:// or postgresql://".to_owned());
            }
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".to_owned());
        }
        if self.http.sign_ins_per_minute == 0 {
            problems.push("http.sign_ins_per_minute must be at least 1".to_owned());
        }
        if self.http.body_limit_bytes == 0 {
            problems.push("http.body_limit_bytes must be at least 1".to_owned());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            problems.push("tls.cert_file and tls.key_file must be set together".to_owned());
        }
        problems.extend(self.oidc.problems());
        problems.extend(self.session.problems());
        problems.extend(self.mfa.problems());
        if let Err(e) = crate::vault::KeyRing::from_config(&self.keys) {
            problems.push(e.to_string());
        }
        problems.extend(self.audit.problems());
        problems.extend(self.directory.problems());
        if self.metrics.bearer_token.as_ref().is_some_and(|t| t.expose().trim().is_empty()) {
            // An empty token would match a request that presents none.
            problems.push("metrics.bearer_token is empty: set a token, or leave it out".to_owned());
        }
        problems.extend(self.training.problems());
        problems.extend(self.platforms.problems());
        problems.extend(self.breakglass.problems());
        problems.extend(self.review.problems());
        problems.extend(self.moderation.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The database URL in effect: the configured one, or the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("custodian.db").display()),
        }
    }

    /// Whether cookies are marked `Secure`: configured so, or served over TLS here.
    pub fn cookies_secure(&self) -> bool {
        self.http.cookie_secure || self.tls.enabled()
    }

    /// The session cookie's name: `session.cookie_name`, with the `__Host-`
    /// prefix whenever cookies are `Secure`, so that browsers accept it only
    /// from this origin over HTTPS, for the whole host (`Path=/`, no
    /// `Domain`), and no sibling subdomain or plain-HTTP page can plant or
    /// overwrite it. Plain-HTTP development on loopback keeps the bare name
    /// (browsers refuse `__Host-` cookies that are not `Secure`).
    pub fn session_cookie_name(&self) -> String {
        if self.cookies_secure() {
            format!("__Host-{}", self.session.cookie_name)
        } else {
            self.session.cookie_name.clone()
        }
    }

    pub fn checkpoint_file(&self) -> PathBuf {
        self.audit.checkpoint_file(&self.data_dir)
    }

    /// The effective configuration as TOML, with every secret masked.
    pub fn masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

fn read_secret_file(key: &str, path: &Path) -> Result<String, ConfigError> {
    let content = std::fs::read_to_string(path).map_err(|e| ConfigError::SecretFile {
        key: key.to_owned(),
        path: path.to_owned(),
        reason: e.kind().to_string(),
    })?;
    let trimmed = content.trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        return Err(ConfigError::SecretFile {
            key: key.to_owned(),
            path: path.to_owned(),
            reason: "the file is empty".to_owned(),
        });
    }
    Ok(trimmed.to_owned())
}

fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|err| {
            let key =
                if err.path.is_empty() { String::new() } else { format!(" (key `{}`)", err.path.join(".")) };
            let source = err.metadata.as_ref().map(|m| format!(" in {}", m.name)).unwrap_or_default();
            format!("{}{key}{source}", err.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_of_kubernetes_and_the_scripts_are_not_configuration() {
        for key in [
            "port",
            "port_8080_tcp",
            "port_8080_tcp_addr",
            "port_8080_tcp_proto",
            "service_host",
            "service_port",
            "service_port_http",
            "dev_port",
            "test_database_url",
            "config",
            "metrics_service_host",
            "metrics_service_port_http",
            "postgresql_port",
            "postgresql_port_5432_tcp_addr",
        ] {
            assert!(is_foreign_env(key), "{key} is ignored");
        }
        for key in ["listen", "data_dir", "oidc__client_id", "http__cookie_secure", "session__idle_timeout"] {
            assert!(!is_foreign_env(key), "{key} is configuration");
        }
    }

    #[test]
    fn an_empty_metrics_token_is_refused() {
        let mut config = Config::default();
        config.metrics.bearer_token = Some(Secret::new(" ".into()));
        let Err(ConfigError::Invalid(problems)) = config.validate() else { panic!("an empty token passes") };
        assert!(problems.iter().any(|p| p.contains("metrics.bearer_token is empty")), "{problems:?}");
    }

    #[test]
    fn no_configuration_key_looks_like_a_foreign_variable() {
        let value = serde_json::to_value(Config::default()).unwrap_or_default();
        let top: Vec<String> = value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        assert!(top.contains(&"listen".to_owned()), "{top:?}");
        for key in top {
            assert!(!is_foreign_env(&key), "the top-level key {key} would be ignored in the environment");
        }
    }
}
