//! Finding an account's credential in a platform's answer before the
//! answer reaches a pass-through caller. A platform can hand a token back
//! to whoever asks the right question (Graph field expansion, a paging
//! `next` link carrying `access_token`); the caller holds only an API token
//! of Custodian's and must never receive the account's secret.
//!
//! Every secret the vault holds for the account (and the one the call
//! carried) is looked for in the headers passed back and in the whole body,
//! as is and in the forms a JSON or URL encoder writes it. This module
//! says where one was found, never which secret or what it is.

use crate::platforms::forward::Forwarded;
use crate::secret::Secret;

/// Shorter secrets are not looked for: they would match by chance, and no
/// platform credential is this short.
const SHORTEST: usize = 8;

/// The byte strings a secret may appear as in an answer.
fn forms(secret: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![secret.as_bytes().to_vec()];
    let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let path = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or("").to_owned();
    for form in [url, path, json.replace('/', "\\/"), json] {
        let bytes = form.into_bytes();
        if !forms.contains(&bytes) {
            forms.push(bytes);
        }
    }
    forms
}

/// Where in the answer a secret was found: `body` or `header NAME`.
pub fn find(answer: &Forwarded, secrets: &[&Secret]) -> Option<String> {
    let needles: Vec<Vec<u8>> =
        secrets.iter().map(|s| s.expose()).filter(|s| s.len() >= SHORTEST).flat_map(forms).collect();
    let holds = |haystack: &[u8]| needles.iter().any(|n| memchr::memmem::find(haystack, n).is_some());
    if let Some((name, _)) = answer.headers.iter().find(|(_, v)| holds(v.as_bytes())) {
        return Some(format!("header {name}"));
    }
    holds(&answer.body).then(|| "body".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn answer(body: &str, header: Option<&str>) -> Forwarded {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(v) = header {
            headers.insert("etag", v.parse().unwrap());
        }
        Forwarded {
            status: 200,
            headers,
            body: Bytes::from(body.to_owned()),
            token_expired: false,
            created: None,
        }
    }

    #[test]
    fn a_secret_is_found_as_is_and_as_encoders_write_it() {
        let secret = Secret::new("EAAG+abc/def=123".into());
        let s = [&secret];
        assert_eq!(
            find(&answer("{\"access_token\":\"EAAG+abc/def=123\"}", None), &s).as_deref(),
            Some("body")
        );
        let next = "{\"next\":\"https:\\/\\/graph.example\\/x?access_token=EAAG%2Babc%2Fdef%3D123\"}";
        assert_eq!(find(&answer(next, None), &s).as_deref(), Some("body"));
        assert_eq!(find(&answer("{\"t\":\"EAAG+abc\\/def=123\"}", None), &s).as_deref(), Some("body"));
        assert_eq!(find(&answer("{}", Some("W/\"EAAG+abc/def=123\"")), &s).as_deref(), Some("header etag"));
        assert_eq!(find(&answer("{\"id\":\"1\"}", Some("W/\"1\"")), &s), None);
        let short = Secret::new("abc".into());
        assert_eq!(find(&answer("abc", None), &[&short]), None, "too short to look for");
    }
}
