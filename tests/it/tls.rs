//! Optional TLS: HTTPS served directly, with HSTS.

use reqwest::StatusCode;

use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_hsts() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.tls.cert_file = Some(cert_file.clone());
        c.tls.key_file = Some(key_file.clone());
        c.http.cookie_secure = true;
    })
    .await;
    let https = app.base.replace("http://", "https://");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    // Sign-in's flow cookie is Secure over TLS.
    let r = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{https}/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // Plain HTTP to the TLS port gets no page.
    let plain = reqwest::get(format!("{}/healthz", app.base)).await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
}
