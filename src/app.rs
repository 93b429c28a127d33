//! Start-up: build the services from configuration, then serve HTTP (or
//! HTTPS) until SIGTERM, finishing in-flight requests first.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::audit::{stream, Journal};
use crate::auth::{EnrollmentRules, Identity};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::directory::scim::Scim;
use crate::directory::Directory;
use crate::http::{self, AppState};
use crate::identity::{Oidc, Sessions};
use crate::storage::Db;
use crate::vault::KeyRing;

/// Connects the database, applies migrations and wires every service.
pub async fn build_state(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let policies = Arc::new(
        crate::policy::PolicyStore::load(&config.policy)
            .with_context(|| format!("the policies in {} cannot be used", config.policy.dir.display()))?,
    );
    let keys = Arc::new(KeyRing::from_config(&config.keys).context("the key ring is not usable")?);
    let db = Db::connect(&config.database_url(), config.database.max_connections)
        .await
        .context("cannot open the database")?;
    db.migrate().await.context("cannot apply database migrations")?;
    crate::vault::sealed::check_keys(&db, &keys)
        .await
        .context("the key ring cannot open the data sealed with it")?;
    let journal = Journal::start(db.clone(), clock.clone(), &config.audit, config.checkpoint_file())
        .await
        .context("cannot start the audit journal")?;
    let sessions = Sessions::new(db.clone(), clock.clone(), &config.session);
    let oidc = Arc::new(Oidc::new(config.oidc.clone(), clock.clone())?);
    let config = Arc::new(config);
    let directory = Directory::new(
        db.clone(),
        clock.clone(),
        config.directory.clone(),
        config.training.clone(),
        journal.clone(),
        sessions.clone(),
    );
    let scim = Scim::new(directory.clone(), scim_base_url(&config));
    let rules = EnrollmentRules::new(
        &config.mfa,
        config.oidc.redirect_url.as_ref(),
        config.directory.help_contact.clone(),
    );
    let identity = Identity::new(
        db.clone(),
        clock.clone(),
        journal.clone(),
        sessions,
        keys.clone(),
        oidc,
        directory,
        config.mfa.clone(),
        rules,
    )
    .with_sign_in_limit(config.http.sign_ins_per_minute, &config.audit.refusals);
    let stream = Arc::new(stream::spawn(db.clone(), config.audit.stream.clone(), clock.clone()));
    let accounts = crate::platforms::accounts::Accounts::new(db.clone());
    let credentials = crate::vault::Credentials::new(db.clone(), keys.clone());
    let refresher = Arc::new(crate::platforms::refresh::Refresher::new(
        credentials.clone(),
        accounts.clone(),
        journal.clone(),
        clock.clone(),
    ));
    let connector = crate::platforms::connect::Connector::new(
        Arc::new(config.platforms.clone()),
        connect_redirect_url(&config),
        db.clone(),
        keys.clone(),
        journal.clone(),
        clock.clone(),
    )
    .context("cannot build the platforms' HTTP client")?;
    let dispatcher = Arc::new(crate::platforms::dispatch::Dispatcher::new(
        config.platforms.clone(),
        db.clone(),
        clock.clone(),
        credentials,
        refresher.clone(),
        journal.clone(),
    ));
    let inbound = dispatcher.inbound();
    let grants = crate::directory::grants::Grants::new(db.clone());
    let queue = crate::queue::Queue::new(db.clone(), keys.clone(), config.review.clone());
    let actions = Arc::new(crate::action::ActionPath::new(
        policies.clone(),
        &identity.directory,
        accounts.clone(),
        dispatcher,
        connector,
        grants.clone(),
        queue.clone(),
    ));
    let reviews =
        crate::review::Reviews::new(queue, actions.clone(), identity.clone(), journal.clone(), clock.clone());
    let templates =
        crate::templates::Templates::new(db.clone(), journal.clone(), clock.clone(), actions.clone());
    let breakglass = crate::breakglass::BreakGlass::new(
        grants,
        actions.clone(),
        identity.clone(),
        journal.clone(),
        clock.clone(),
        &config.breakglass,
    )
    .context("cannot build the break-glass notifier's HTTP client")?;
    let moderation = crate::moderation::Moderation::new(
        crate::moderation::Parts {
            inbox: crate::inbox::Inbox::new(db.clone(), keys.clone()),
            inbound,
            accounts: accounts.clone(),
            policies: policies.clone(),
            path: actions.clone(),
            directory: config.directory.clone(),
            journal: journal.clone(),
            clock: clock.clone(),
        },
        &config.moderation,
    )
    .context("cannot build the moderation notifier's HTTP client")?;
    Ok(AppState {
        config,
        db,
        identity,
        journal,
        clock,
        stream,
        scim,
        keys,
        accounts,
        refresher,
        policies,
        actions,
        breakglass,
        reviews,
        templates,
        moderation,
    })
}

/// Where the IdP reaches `/scim/v2`: configured, or beside the OIDC redirect URL.
fn scim_base_url(config: &Config) -> String {
    if let Some(url) = &config.directory.scim.base_url {
        return url.as_str().trim_end_matches('/').to_owned();
    }
    let origin = config.oidc.redirect_url.as_ref().map(|u| u.origin().ascii_serialization());
    format!("{}/scim/v2", origin.filter(|o| o != "null").unwrap_or_default())
}

/// Where platforms send the browser back: configured, or beside the OIDC redirect URL.
fn connect_redirect_url(config: &Config) -> Option<url::Url> {
    if let Some(url) = &config.platforms.redirect_url {
        return Some(url.clone());
    }
    config.oidc.redirect_url.as_ref()?.join("/connect/callback").ok()
}

/// Serves until `shutdown` resolves, then drains for `http.shutdown_grace`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = state.config.clone();
    let journal = state.journal.clone();
    let router = http::router(state);
    let transport = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => http::connections::Transport::Tls(
            http::tls::acceptor(cert, key).context("in-process TLS ([tls]) cannot start")?,
        ),
        _ => http::connections::Transport::Plain,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let grace = config.http.shutdown_grace;
    // Connections are served here rather than by axum::serve, so that a
    // request the HTTP parser refuses is recorded too (http::connections),
    // with or without TLS.
    let server = http::connections::serve(listener, transport, router, journal, async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let drained = async move {
        // Resolves only after the shutdown signal, plus the grace period.
        if rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {},
        () = drained => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
    Ok(())
}

/// Serves `/metrics` alone on `listener` (`[metrics] listen`) until dropped.
pub async fn serve_metrics(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    axum::serve(listener, http::metrics_router(state)).await.context("the metrics server failed")
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
