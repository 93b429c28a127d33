//! Approved reply templates. A reviewer approves the words once ("Please
//! call us at {phone} so we can help privately"); a reply that uses them
//! unchanged, or fills only their declared placeholders with values the
//! content screen passes on their own, goes out without a new review. The
//! reply still takes the whole path (gate, policy, the screen: a finding
//! policy blocks is still refused), and its intent names the template.
//!
//! ```text
//!  approve {name, body, placeholders} ─► policy template.approve ─► record
//!    template.approve (the words in full) ─► stored
//!  reply {template: {id, values}} ─► the template in use? ─► every value
//!    declared, one short line ─► the words rendered ─► the action path,
//!    which lets a hold through only if no finding touches a value
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sqlx::Row;

use crate::action::{ActionPath, Gated, Refusal, TemplateUse};
use crate::audit::{EventKind, Journal};
use crate::clock::{SharedClock, Timestamp};
use crate::domain::PolicyAction;
use crate::storage::{optional, Db};

const NAME_CHARS: usize = 100;
const BODY_CHARS: usize = 1000;
const VALUE_CHARS: usize = 80;
const MOST_PLACEHOLDERS: usize = 5;

/// An approved reply template.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ReplyTemplate)]
pub struct Template {
    pub id: String,
    pub name: String,
    /// The words, with `{placeholder}` where a value goes.
    pub body: String,
    pub placeholders: Vec<String>,
    pub approved_by: String,
    pub approved_at: Timestamp,
    #[schema(required = true)]
    pub retired_at: Option<Timestamp>,
    /// The `template.approve` event.
    pub audit_event_id: String,
}

#[derive(Clone)]
pub struct Templates {
    db: Db,
    journal: Journal,
    clock: SharedClock,
    path: Arc<ActionPath>,
}

const COLUMNS: &str = "id, name, body, placeholders, approved_by, approved_at, retired_at, audit_event_id";
const APPROVE: &str = PolicyAction::TemplateApprove.as_str();

impl Templates {
    pub fn new(db: Db, journal: Journal, clock: SharedClock, path: Arc<ActionPath>) -> Self {
        Templates { db, journal, clock, path }
    }

    /// A reviewer approves a template (policy `template.approve`), recorded
    /// with its words in full.
    pub async fn approve(
        &self,
        caller: &Gated<'_>,
        name: &str,
        body: &str,
        placeholders: Vec<String>,
    ) -> Result<Template, Refusal> {
        let policies = self.path.permit(caller, APPROVE, None).await?;
        if let Err(why) = well_formed(name, body, &placeholders) {
            return Err(self.path.refuse(caller, APPROVE, "custodian", Refusal::invalid(why)).await);
        }
        let id = format!("tpl_{}", &crate::identity::session::random_token()[..22]);
        let event = EventKind::TemplateApproved {
            template_id: id.clone(),
            name: name.to_owned(),
            body: body.to_owned(),
            placeholders: placeholders.clone(),
            policies,
        };
        let receipt = self.journal.record(caller.meta(), caller.actor().clone(), event).await?;
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO reply_templates (id, name, body, placeholders, approved_by, approved_at, audit_event_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(name)
        .bind(body)
        .bind(serde_json::to_string(&placeholders).unwrap_or_else(|_| "[]".into()))
        .bind(&caller.user().id)
        .bind(now.millis())
        .bind(receipt.event_id.as_ref())
        .execute(self.db.pool())
        .await?;
        self.get(&id).await?.ok_or_else(|| Refusal::not_found(format!("there is no template {id:?}")))
    }

    /// Retires a template (policy `template.approve`), recorded: it can no
    /// longer be used.
    pub async fn retire(&self, caller: &Gated<'_>, id: &str) -> Result<Template, Refusal> {
        self.path.permit(caller, APPROVE, None).await?;
        let Some(template) = self.get(id).await?.filter(|t| t.retired_at.is_none()) else {
            let refusal = Refusal::not_found(format!("there is no template {id:?} in use"));
            return Err(self.path.refuse(caller, APPROVE, "custodian", refusal).await);
        };
        let event =
            EventKind::TemplateRetired { template_id: template.id.clone(), name: template.name.clone() };
        self.journal.record(caller.meta(), caller.actor().clone(), event).await?;
        sqlx::query("UPDATE reply_templates SET retired_at = $1, retired_by = $2 WHERE id = $3 AND retired_at IS NULL")
            .bind(self.clock.now().millis())
            .bind(&caller.user().id)
            .bind(id)
            .execute(self.db.pool())
            .await?;
        self.get(id).await?.ok_or_else(|| Refusal::not_found(format!("there is no template {id:?}")))
    }

    /// The templates in use, by name.
    pub async fn list(&self) -> Result<Vec<Template>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM reply_templates WHERE retired_at IS NULL ORDER BY name, id");
        sqlx::query(&sql).fetch_all(self.db.pool()).await?.iter().map(template).collect()
    }

    pub async fn get(&self, id: &str) -> Result<Option<Template>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM reply_templates WHERE id = $1");
        optional(sqlx::query(&sql).bind(id).fetch_one(self.db.pool()).await)?
            .as_ref()
            .map(template)
            .transpose()
    }

    /// The words of a reply that uses template `id` with `values`, and the
    /// use the action path checks; or why it cannot be used (4xx).
    pub async fn render(
        &self,
        id: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<(String, TemplateUse), Refusal> {
        let Some(template) = self.get(id).await?.filter(|t| t.retired_at.is_none()) else {
            return Err(Refusal::invalid(format!("there is no reply template {id:?} in use")));
        };
        let (text, spans) = fill(&template, values).map_err(Refusal::invalid)?;
        let used = TemplateUse {
            template_id: template.id,
            approved_by: template.approved_by,
            text: text.clone(),
            spans,
        };
        Ok((text, used))
    }
}

fn template(r: &sqlx::any::AnyRow) -> Result<Template, sqlx::Error> {
    let placeholders: String = r.try_get("placeholders")?;
    Ok(Template {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        placeholders: serde_json::from_str(&placeholders).map_err(|e| sqlx::Error::Decode(e.into()))?,
        approved_by: r.try_get("approved_by")?,
        approved_at: Timestamp(r.try_get("approved_at")?),
        retired_at: r.try_get::<Option<i64>, _>("retired_at")?.map(Timestamp),
        audit_event_id: r.try_get("audit_event_id")?,
    })
}

/// What is wrong with a template, if anything: a name and words of sane
/// length, at most five placeholders named `[a-z_]`, each used in the
/// words, and no other braces.
fn well_formed(name: &str, body: &str, placeholders: &[String]) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > NAME_CHARS {
        return Err(format!("a template needs a name of 1 to {NAME_CHARS} characters"));
    }
    if body.trim().is_empty() || body.chars().count() > BODY_CHARS {
        return Err(format!("a template's body must be 1 to {BODY_CHARS} characters"));
    }
    if placeholders.len() > MOST_PLACEHOLDERS {
        return Err(format!("a template has at most {MOST_PLACEHOLDERS} placeholders"));
    }
    for p in placeholders {
        if p.is_empty() || p.len() > 32 || !p.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(format!("placeholder {p:?} must be 1 to 32 of a-z and _"));
        }
        if !body.contains(&format!("{{{p}}}")) {
            return Err(format!("placeholder {p:?} is not in the body as {{{p}}}"));
        }
    }
    let mut rest = body.to_owned();
    for p in placeholders {
        rest = rest.replace(&format!("{{{p}}}"), "");
    }
    if rest.contains(['{', '}']) {
        return Err("the body has braces that are not a declared placeholder".into());
    }
    Ok(())
}

/// The template's words with its placeholders filled: every declared one,
/// each with one short line, and nothing undeclared; with the byte spans
/// the values took in the result.
fn fill(
    template: &Template,
    values: &BTreeMap<String, String>,
) -> Result<(String, Vec<(usize, usize)>), String> {
    if let Some(extra) = values.keys().find(|k| !template.placeholders.contains(k)) {
        return Err(format!("template {} has no placeholder {extra:?}", template.id));
    }
    for p in &template.placeholders {
        let Some(value) = values.get(p) else {
            return Err(format!("template {} needs a value for {p:?}", template.id));
        };
        let value = value.trim();
        if value.is_empty()
            || value.chars().count() > VALUE_CHARS
            || value.chars().any(|c| c.is_control() || c == '{' || c == '}')
        {
            return Err(format!(
                "the value for {p:?} must be one line of 1 to {VALUE_CHARS} characters, without braces"
            ));
        }
    }
    // The body's braces are exactly its declared placeholders (checked at
    // approval), so each `{` opens one.
    let (mut text, mut spans, mut rest) = (String::new(), Vec::new(), template.body.as_str());
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("template {} is malformed", template.id))?;
        let value = values.get(&after[..close]).map(|v| v.trim()).unwrap_or_default();
        spans.push((text.len(), text.len() + value.len()));
        text.push_str(value);
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    Ok((text, spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(body: &str, placeholders: &[&str]) -> Template {
        Template {
            id: "tpl_1".into(),
            name: "call us".into(),
            body: body.into(),
            placeholders: placeholders.iter().map(|p| p.to_string()).collect(),
            approved_by: "r".into(),
            approved_at: Timestamp(0),
            retired_at: None,
            audit_event_id: "e".into(),
        }
    }

    #[test]
    fn a_template_is_filled_only_where_it_says_with_one_short_line_each() {
        let t = template("Thanks {first_name}, please call {phone}.", &["first_name", "phone"]);
        let values = |v: &[(&str, &str)]| v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (text, spans) = fill(&t, &values(&[("first_name", " Tasha "), ("phone", "555-0100")])).unwrap();
        assert_eq!(text, "Thanks Tasha, please call 555-0100.");
        assert_eq!(spans.iter().map(|&(a, b)| &text[a..b]).collect::<Vec<_>>(), ["Tasha", "555-0100"]);
        assert!(fill(&t, &values(&[("first_name", "Tasha")])).unwrap_err().contains("needs a value"));
        assert!(fill(&t, &values(&[("first_name", "T"), ("phone", "1"), ("x", "y")]))
            .unwrap_err()
            .contains("no placeholder"));
        assert!(fill(&t, &values(&[("first_name", "a\nb"), ("phone", "1")])).is_err());
        assert!(fill(&t, &values(&[("first_name", "{phone}"), ("phone", "1")])).is_err());
        assert!(fill(&t, &values(&[("first_name", &"x".repeat(81)), ("phone", "1")])).is_err());
    }

    #[test]
    fn a_template_declares_every_placeholder_it_uses() {
        let ok =
            |b: &str, p: &[&str]| well_formed("n", b, &p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok("Please call us at 555-0100 so we can help privately.", &[]).is_ok());
        assert!(ok("Hi {name}!", &["name"]).is_ok());
        assert!(ok("Hi {name}!", &[]).unwrap_err().contains("braces"));
        assert!(ok("Hi!", &["name"]).unwrap_err().contains("not in the body"));
        assert!(ok("Hi {Name}!", &["Name"]).is_err());
        assert!(ok("", &[]).is_err());
    }
}
