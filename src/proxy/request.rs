//! What the platform will read of a pass-through request: the query's
//! parameters and the body's (a form, JSON, multipart text parts; binary
//! media only on a route that declares it). It is read once, before
//! policy, so that what decides the action, what is refused and what the
//! intent records as content are all what the platform reads.
//!
//! - A body must be one the proxy can read: JSON (UTF-8, no duplicate
//!   keys, since platforms disagree on which one wins), a UTF-8 form, or
//!   multipart whose parts are UTF-8 text; a file part or a raw binary body
//!   only where the route takes media. Anything else is refused (415).
//! - Parameters that would change the request (`method`, `_method`, ...)
//!   or bring a credential of the caller's own (`access_token`, ...) are
//!   refused wherever they appear.
//!
//! This module never sends anything and never decides policy.

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::action::{Kind, Refusal};

/// What a route's body may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Text only: JSON, a form or multipart text parts (or nothing).
    Text,
    /// Binary media as well (an upload): a raw `image/*`, `video/*` or
    /// `application/octet-stream` body, or multipart file parts. Media is
    /// recorded by size, type and SHA-256; its text parts as text.
    Media,
}

/// Where a parameter was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSource {
    Query,
    Form,
    Part,
    Json,
}

impl ParamSource {
    fn as_str(self) -> &'static str {
        match self {
            ParamSource::Query => "query",
            ParamSource::Form => "form",
            ParamSource::Part => "part",
            ParamSource::Json => "json",
        }
    }
}

/// One named value the platform reads.
#[derive(Debug, Clone)]
pub struct Param {
    pub from: ParamSource,
    pub name: String,
    /// Decoded text; for a JSON member that is not a string, its JSON.
    pub value: String,
}

/// A request as the platform will read it.
#[derive(Debug, Default)]
pub struct Readable {
    /// Every parameter, query first, in order (duplicates kept).
    pub params: Vec<Param>,
    /// The JSON body, when it is one.
    pub json: Option<Value>,
    /// The body as text when it is JSON (recorded as sent).
    json_text: Option<String>,
    /// Binary media: where it was, and how it is recorded.
    media: Vec<String>,
}

/// Parameter names that ask a server to treat a request as another one.
const OVERRIDES: [&str; 6] =
    ["method", "_method", "x-http-method-override", "x-http-method", "x-method-override", "_httpmethod"];

/// Parameter names that carry a credential: only the sealed one may act.
const CREDENTIALS: [&str; 4] = ["access_token", "oauth_token", "bearer_token", "input_token"];

fn refused(rule: &str, reason: String) -> Refusal {
    Refusal::pass_through(Kind::BadPassThrough, rule, reason)
}

fn unreadable(reason: String) -> Refusal {
    Refusal::pass_through(Kind::UnsupportedMediaType, "proxy:content", reason)
}

/// `+` as a space, then percent-decoding; None unless the result is UTF-8.
fn decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|s| s.into_owned())
}

/// The pairs of a query or form, decoded; None if one is not UTF-8.
fn pairs(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// A content type's media type (lower case) and parameters.
fn media_type(content_type: &str) -> (String, Vec<(String, String)>) {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
        })
        .collect();
    (essence, params)
}

fn utf8_charset(params: &[(String, String)]) -> bool {
    params.iter().all(|(k, v)| k != "charset" || v.eq_ignore_ascii_case("utf-8"))
}

fn binary_record(what: &str, media_type: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(bytes));
    format!("{what}: [{} bytes of {media_type}, SHA-256 {digest}]", bytes.len())
}

impl Readable {
    /// Reads the query and the body as the platform would, or says why it cannot.
    pub fn read(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        takes: Body,
    ) -> Result<Readable, Refusal> {
        let mut readable = Readable::default();
        if let Some(q) = query {
            let pairs = pairs(q).ok_or_else(|| {
                refused("proxy:query", "the query holds a value that is not UTF-8 text".into())
            })?;
            readable.push(ParamSource::Query, pairs);
        }
        if body.is_empty() {
            return readable.checked();
        }
        let Some(content_type) = content_type else {
            return Err(unreadable(
                "a body needs a Content-Type the platform and Custodian read alike".into(),
            ));
        };
        let (essence, params) = media_type(content_type);
        if !utf8_charset(&params) {
            return Err(unreadable(format!("{content_type:?}: only UTF-8 text is passed through")));
        }
        let text = || {
            std::str::from_utf8(body).map_err(|_| unreadable(format!("the {essence} body is not UTF-8 text")))
        };
        match essence.as_str() {
            "application/json" => {
                let text = text()?;
                let json = json_without_duplicates(text)?;
                if let Value::Object(members) = &json {
                    let params = members.iter().map(|(k, v)| {
                        let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), value)
                    });
                    readable.push(ParamSource::Json, params.collect());
                }
                readable.json = Some(json);
                readable.json_text = Some(text.to_owned());
            }
            "application/x-www-form-urlencoded" => {
                let pairs = pairs(text()?)
                    .ok_or_else(|| unreadable("the form holds a value that is not UTF-8 text".into()))?;
                readable.push(ParamSource::Form, pairs);
            }
            "multipart/form-data" => {
                let boundary = params.iter().find(|(k, _)| k == "boundary").map(|(_, v)| v.as_str());
                let boundary = boundary.filter(|b| !b.is_empty()).ok_or_else(|| {
                    unreadable("a multipart body needs its boundary in the Content-Type".into())
                })?;
                readable.multipart(body, boundary, takes)?;
            }
            t if takes == Body::Media
                && (t.starts_with("image/")
                    || t.starts_with("video/")
                    || t == "application/octet-stream") =>
            {
                readable.media.push(binary_record("body", t, body));
            }
            other => {
                let takes = match takes {
                    Body::Text => "JSON, a form or multipart text",
                    Body::Media => "JSON, a form, multipart, or image, video or octet-stream media",
                };
                return Err(unreadable(format!(
                    "this route takes {takes}; a {other:?} body is not passed through, since what the platform would read of it cannot be recorded"
                )));
            }
        }
        readable.checked()
    }

    fn push(&mut self, from: ParamSource, pairs: Vec<(String, String)>) {
        self.params.extend(pairs.into_iter().map(|(name, value)| Param { from, name, value }));
    }

    fn multipart(&mut self, body: &[u8], boundary: &str, takes: Body) -> Result<(), Refusal> {
        let bad = |why: &str| unreadable(format!("the multipart body cannot be read: {why}"));
        let parts = multipart_parts(body, boundary).ok_or_else(|| bad("it is not well formed"))?;
        for part in parts {
            let name = part.name.ok_or_else(|| bad("a part has no name"))?;
            if let Some(encoding) =
                part.transfer_encoding.filter(|e| !matches!(e.as_str(), "7bit" | "8bit" | "binary"))
            {
                return Err(bad(&format!("a part is sent with the {encoding} transfer encoding")));
            }
            let (essence, params) = media_type(part.content_type.as_deref().unwrap_or("text/plain"));
            let text = !part.file && essence == "text/plain" && utf8_charset(&params);
            match std::str::from_utf8(part.data) {
                Ok(value) if text => self.push(ParamSource::Part, vec![(name, value.to_owned())]),
                _ if takes == Body::Media => {
                    self.media.push(binary_record(&format!("part {name}"), &essence, part.data));
                }
                _ => {
                    return Err(bad(&format!(
                        "part {name:?} is a file or not UTF-8 text, and this route takes no media"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Refuses parameters that would change the request or its credential.
    fn checked(self) -> Result<Readable, Refusal> {
        for p in &self.params {
            let name = p.name.to_ascii_lowercase();
            if OVERRIDES.contains(&name.as_str()) {
                return Err(refused(
                    "proxy:parameter",
                    format!(
                        "the {name:?} parameter ({}) is refused: it would make the request another one",
                        p.from.as_str()
                    ),
                ));
            }
            if CREDENTIALS.contains(&name.as_str()) {
                return Err(refused(
                    "proxy:parameter",
                    format!("the {name:?} parameter ({}) is refused: the account's sealed credential is the only one a request carries", p.from.as_str()),
                ));
            }
        }
        Ok(self)
    }

    /// The values of the parameters called `name` (any case), wherever they are.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params.iter().filter(move |p| p.name.eq_ignore_ascii_case(name)).map(|p| p.value.as_str())
    }

    /// Whether media rides with the request: an uploaded file, or a
    /// parameter naming media by URL (`image_url`, `video_url`, ...).
    pub fn has_media(&self) -> bool {
        const MEDIA_PARAMS: [&str; 4] = ["image_url", "video_url", "media_url", "thumbnail_url"];
        !self.media.is_empty()
            || self.params.iter().any(|p| MEDIA_PARAMS.iter().any(|m| p.name.eq_ignore_ascii_case(m)))
    }

    /// The names of all parameters outside the query.
    pub fn body_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().filter(|p| p.from != ParamSource::Query).map(|p| p.name.as_str())
    }

    /// What the platform will read, as the intent records it: one line per
    /// query or form parameter and multipart part (`query status: ...`),
    /// the JSON body as sent, and media by size, type and SHA-256.
    pub fn content(&self) -> String {
        let mut lines: Vec<String> = self
            .params
            .iter()
            .filter(|p| p.from != ParamSource::Json)
            .map(|p| format!("{} {}: {}", p.from.as_str(), p.name, p.value))
            .collect();
        if let Some(json) = &self.json_text {
            lines.push(format!("json: {json}"));
        }
        lines.extend(self.media.iter().cloned());
        lines.join("\n")
    }
}

/// One part of a multipart/form-data body.
struct Part<'a> {
    name: Option<String>,
    file: bool,
    content_type: Option<String>,
    transfer_encoding: Option<String>,
    data: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The parts of a multipart body (RFC 7578), or None if it is not well
/// formed: it must open with the boundary and close with it.
fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let opening = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let start = find(body, opening.as_bytes())?;
    // Only a preamble of blank lines: anything else is text a server might read.
    if !body[..start].iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return None;
    }
    let mut rest = &body[start + opening.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            // The closing delimiter: only line breaks may follow.
            return rest[2..].iter().all(|b| matches!(b, b'\r' | b'\n')).then_some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, delimiter.as_bytes())?;
        let part = &rest[..end];
        rest = &rest[end + delimiter.len()..];
        let split = find(part, b"\r\n\r\n").map(|i| (i, i + 4)).or_else(|| {
            // A part without headers starts with the blank line.
            part.starts_with(b"\r\n").then_some((0, 2))
        })?;
        let head = std::str::from_utf8(&part[..split.0]).ok()?;
        let mut parsed = Part {
            name: None,
            file: false,
            content_type: None,
            transfer_encoding: None,
            data: &part[split.1..],
        };
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once(':')?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    let (kind, params) = media_type(value);
                    if kind != "form-data" {
                        return None;
                    }
                    // One plain name only: a repeated or extended (`name*`) one could be
                    // read by the platform as another field than the one recorded.
                    let names = params.iter().filter(|(k, _)| k == "name" || k == "name*").count();
                    if names > 1 || params.iter().any(|(k, _)| k == "name*") {
                        return None;
                    }
                    parsed.file = params.iter().any(|(k, _)| k == "filename" || k == "filename*");
                    parsed.name = params.into_iter().find(|(k, _)| k == "name").map(|(_, v)| v);
                }
                "content-type" => parsed.content_type = Some(value.trim().to_owned()),
                "content-transfer-encoding" => {
                    parsed.transfer_encoding = Some(value.trim().to_ascii_lowercase());
                }
                _ => {}
            }
        }
        parts.push(parsed);
    }
}

/// The JSON value, refused if it is not JSON or if an object repeats a key.
fn json_without_duplicates(text: &str) -> Result<Value, Refusal> {
    let mut de = serde_json::Deserializer::from_str(text);
    Unique.deserialize(&mut de).map_err(|e| unreadable(format!("the JSON body cannot be read: {e}")))?;
    serde_json::from_str(text).map_err(|e| unreadable(format!("the JSON body cannot be read: {e}")))
}

/// Walks a JSON document, failing on an object that repeats a key.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("the key {key:?} appears twice")));
            }
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(query: Option<&str>, ct: Option<&str>, body: &[u8], takes: Body) -> Result<Readable, Refusal> {
        Readable::read(query, ct, body, takes)
    }

    #[test]
    fn the_query_form_json_and_text_parts_are_all_read_and_recorded() {
        let r = read(Some("status=Flu+shots%20Friday&x=1"), None, b"", Body::Text).unwrap();
        assert_eq!(r.content(), "query status: Flu shots Friday\nquery x: 1");
        let r = read(None, Some("application/x-www-form-urlencoded"), b"message=Hi%21", Body::Text).unwrap();
        assert_eq!(r.content(), "form message: Hi!");
        let r = read(None, Some("application/json; charset=UTF-8"), br#"{"status":"Hello"}"#, Body::Text)
            .unwrap();
        assert_eq!(r.content(), r#"json: {"status":"Hello"}"#);
        assert_eq!(r.values("status").collect::<Vec<_>>(), ["Hello"]);
        let body = b"--b\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nOpen day\r\n--b\r\nContent-Disposition: form-data; name=\"source\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--b--\r\n";
        let r = read(None, Some("multipart/form-data; boundary=b"), body, Body::Media).unwrap();
        let content = r.content();
        assert!(
            content.starts_with("part caption: Open day\npart source: [4 bytes of image/png, SHA-256 "),
            "{content}"
        );
        assert!(
            read(None, Some("multipart/form-data; boundary=b"), body, Body::Text).is_err(),
            "no file on a text route"
        );
        let r = read(None, Some("image/png"), b"\x89PNG", Body::Media).unwrap();
        assert!(r.content().starts_with("body: [4 bytes of image/png"));
    }

    #[test]
    fn what_cannot_be_read_alike_is_refused() {
        let rule = |r: Result<Readable, Refusal>| r.map(|_| ()).unwrap_err().rule.clone();
        assert_eq!(rule(read(None, Some("image/png"), b"x", Body::Text)), "proxy:content");
        assert_eq!(rule(read(None, Some("text/plain"), b"x", Body::Media)), "proxy:content");
        assert_eq!(rule(read(None, None, b"status=x", Body::Text)), "proxy:content");
        assert_eq!(
            rule(read(None, Some("application/json"), br#"{"a":1,"a":2}"#, Body::Text)),
            "proxy:content"
        );
        assert_eq!(rule(read(None, Some("application/json"), b"{", Body::Text)), "proxy:content");
        assert_eq!(
            rule(read(
                None,
                Some("application/x-www-form-urlencoded; charset=iso-8859-1"),
                b"a=b",
                Body::Text
            )),
            "proxy:content"
        );
        assert_eq!(rule(read(Some("a=%FF"), None, b"", Body::Text)), "proxy:query");
        // A part named twice could be read by the platform under the other name.
        for twice in [
            &b"--b\r\nContent-Disposition: form-data; name=\"note\"; name=\"status\"\r\n\r\nx\r\n--b--\r\n"[..],
            b"--b\r\nContent-Disposition: form-data; name=\"note\"; name*=UTF-8''status\r\n\r\nx\r\n--b--\r\n",
        ] {
            let ct = Some("multipart/form-data; boundary=b");
            assert_eq!(rule(read(None, ct, twice, Body::Text)), "proxy:content");
        }
        let trailing = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b--\r\nmore";
        assert_eq!(
            rule(read(None, Some("multipart/form-data; boundary=b"), trailing, Body::Text)),
            "proxy:content"
        );
        for (query, ct, body) in [
            (Some("method=delete"), None, &b""[..]),
            (Some("_METHOD=DELETE"), None, b""),
            (None, Some("application/x-www-form-urlencoded"), b"_method=DELETE"),
            (None, Some("application/json"), br#"{"x-http-method-override":"DELETE"}"#),
            (Some("access_token=mine"), None, b""),
        ] {
            assert_eq!(rule(read(query, ct, body, Body::Text)), "proxy:parameter", "{query:?} {body:?}");
        }
    }
}
