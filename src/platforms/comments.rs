//! Reading a platform's list of comments into [`Comment`]s. Each adapter
//! says where its platform puts the list and each field ([`Layout`]); this
//! module owns what they have in common: an element without an id is left
//! out, a missing author or text reads as empty, a missing time as none.
//! It never calls a platform and never fails: what a platform left out is
//! simply not listed.

use serde_json::Value;

use crate::clock::Timestamp;
use crate::platforms::Comment;

/// Where one platform puts its comments in an answer, as JSON pointers.
pub(crate) struct Layout {
    /// The array of comments in the answer.
    pub list: &'static str,
    /// The comment's id within an element: the first of these present.
    pub id: &'static [&'static str],
    /// Who wrote it: the first of these present.
    pub author: &'static [&'static str],
    pub text: &'static str,
    pub created_at: Written,
}

/// How a platform writes a comment's time.
pub(crate) enum Written {
    /// As text (RFC 3339), passed on as written.
    Text(&'static str),
    /// As milliseconds since the epoch, passed on as RFC 3339.
    EpochMillis(&'static str),
}

impl Layout {
    /// The comments in `answer`, in the platform's order.
    pub(crate) fn read(&self, answer: &Value) -> Vec<Comment> {
        let Some(elements) = answer.pointer(self.list).and_then(Value::as_array) else {
            return Vec::new();
        };
        elements.iter().filter_map(|element| self.comment(element)).collect()
    }

    fn comment(&self, element: &Value) -> Option<Comment> {
        let text = |pointer: &str| element.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
        Some(Comment {
            id: first(element, self.id)?.as_str()?.to_owned(),
            author: first(element, self.author).and_then(Value::as_str).unwrap_or("").to_owned(),
            text: text(self.text),
            created_at: match self.created_at {
                Written::Text(pointer) => element.pointer(pointer).and_then(Value::as_str).map(str::to_owned),
                Written::EpochMillis(pointer) => {
                    element.pointer(pointer).and_then(Value::as_i64).map(|ms| Timestamp(ms).rfc3339())
                }
            },
        })
    }
}

/// The value at the first of `pointers` that `element` has, whatever it is:
/// a later pointer is a fallback for an absent field, not for a wrong one.
fn first<'a>(element: &'a Value, pointers: &[&str]) -> Option<&'a Value> {
    pointers.iter().find_map(|pointer| element.pointer(pointer))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LAYOUT: Layout = Layout {
        list: "/data",
        id: &["/id", "/urn"],
        author: &["/from/name", "/from/id"],
        text: "/message",
        created_at: Written::EpochMillis("/created"),
    };

    #[test]
    fn elements_without_an_id_are_left_out_and_missing_fields_read_as_empty() {
        let answer = json!({"data": [
            {"message": "no id"},
            {"urn": "urn:1", "from": {"id": "42"}, "created": 0},
            {"id": "2", "from": {"name": null, "id": "43"}, "message": "hi"},
        ]});
        let comments = LAYOUT.read(&answer);
        let seen: Vec<_> =
            comments.iter().map(|c| (c.id.as_str(), c.author.as_str(), c.text.as_str())).collect();
        assert_eq!(seen, [("urn:1", "42", ""), ("2", "", "hi")]);
        assert_eq!(comments[0].created_at.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(comments[1].created_at, None);
        assert!(LAYOUT.read(&json!({"error": "gone"})).is_empty());
    }
}
