//! The access review: who can act, through which group and role, with their
//! training status, last sign-in and last action, for the periodic
//! recertification HIPAA programs run. Everyone Custodian knows appears:
//! users who have signed in, and directory users who have not yet. The
//! break-glass uses no admin has acknowledged yet are listed with them, and
//! the accounts' posts made outside Custodian.

use std::collections::HashMap;

use serde::Serialize;

use crate::audit::query::csv_cell;
use crate::clock::Timestamp;
use crate::directory::training::{CourseStatus, State};
use crate::directory::{Directory, DirectorySource, GateError};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AccessReviewRow)]
pub struct ReviewRow {
    /// Custodian's user id; empty for a directory user who has never signed in.
    pub user_id: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub directory_user: Option<String>,
    /// `allowed`, or `refused` with the reason in `refusal`.
    #[schema(schema_with = access_states)]
    pub access: &'static str,
    /// Why access is refused.
    #[schema(required = true)]
    pub refusal: Option<String>,
    /// `group → role` pairs.
    pub grants: Vec<String>,
    pub roles: Vec<String>,
    /// The social accounts the roles reach (filled once accounts are connected).
    pub accounts: Vec<String>,
    pub training: Vec<CourseStatus>,
    /// The earliest expiry among the required courses.
    #[schema(required = true)]
    pub training_expires_on: Option<chrono::NaiveDate>,
    #[schema(required = true)]
    pub last_sign_in: Option<Timestamp>,
    #[schema(required = true)]
    pub last_action: Option<Timestamp>,
}

/// The two values `access` takes.
fn access_states() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["allowed", "refused"]))
        .build()
}

impl Directory {
    pub async fn access_review(&self) -> Result<Vec<ReviewRow>, sqlx::Error> {
        let last_actions = self.last_actions().await?;
        let mut rows = Vec::new();
        let mut linked = Vec::new();
        for user in self.users.all().await? {
            linked.extend(user.directory_id.clone());
            let (access, refusal, grants, roles, training) = match self.access(&user).await {
                Ok(a) => {
                    let grants = a.grants.iter().map(|g| format!("{} → {}", g.group, g.role)).collect();
                    let roles = a.roles.iter().map(|r| r.as_str().to_owned()).collect();
                    ("allowed", None, grants, roles, a.training)
                }
                Err(GateError::Denied(d)) => ("refused", Some(d.refusal.message()), vec![], vec![], vec![]),
                Err(GateError::Storage(e)) => return Err(e),
            };
            rows.push(ReviewRow {
                last_action: last_actions.get(&user.id).copied(),
                user_id: user.id,
                email: user.email,
                name: user.name,
                directory_user: user.directory_id,
                access,
                refusal,
                grants,
                roles,
                accounts: Vec::new(),
                training_expires_on: earliest_expiry(&training),
                training,
                last_sign_in: user.last_login_at,
            });
        }
        if self.config().source == DirectorySource::Scim {
            for entry in self.store.all_users().await? {
                if linked.contains(&entry.id) {
                    continue;
                }
                let groups: Vec<String> =
                    self.store.groups_of(&entry.id).await?.into_iter().map(|(_, n)| n).collect();
                let grants = crate::directory::roles::grants(&groups, &self.config().roles);
                rows.push(ReviewRow {
                    user_id: String::new(),
                    email: entry.email_key(),
                    name: entry.display_name().map(str::to_owned),
                    directory_user: Some(entry.id.clone()),
                    access: if entry.active && !grants.is_empty() { "not_signed_in" } else { "refused" },
                    refusal: (!entry.active).then(|| "deactivated in the directory".to_owned()),
                    grants: grants.iter().map(|g| format!("{} → {}", g.group, g.role)).collect(),
                    roles: grants.iter().map(|g| g.role.as_str().to_owned()).collect(),
                    accounts: Vec::new(),
                    training: Vec::new(),
                    training_expires_on: None,
                    last_sign_in: None,
                    last_action: None,
                });
            }
        }
        Ok(rows)
    }

    /// Each user's latest journal event that was not a sign-in step.
    async fn last_actions(&self) -> Result<HashMap<String, Timestamp>, sqlx::Error> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT user_id, MAX(time) FROM audit_events WHERE user_id IS NOT NULL \
             AND action NOT LIKE 'auth.%' AND action NOT LIKE 'access.%' GROUP BY user_id",
        )
        .fetch_all(self.store.db().pool())
        .await?;
        Ok(rows.into_iter().map(|(u, t)| (u, Timestamp(t))).collect())
    }
}

fn earliest_expiry(training: &[CourseStatus]) -> Option<chrono::NaiveDate> {
    training.iter().filter(|t| t.state != State::Missing).filter_map(|t| t.expires_on).min()
}

/// The review as CSV (RFC 4180, formula-safe), one row per user; lists are joined with `; `.
pub fn to_csv(rows: &[ReviewRow]) -> String {
    const HEADER: [&str; 13] = [
        "user_id",
        "email",
        "name",
        "directory_user",
        "access",
        "refusal",
        "grants",
        "roles",
        "accounts",
        "training",
        "training_expires_on",
        "last_sign_in",
        "last_action",
    ];
    let mut out = HEADER.join(",");
    out.push_str("\r\n");
    for r in rows {
        let training: Vec<String> = r
            .training
            .iter()
            .map(|t| {
                let state = serde_json::to_value(t.state).ok().and_then(|v| v.as_str().map(str::to_owned));
                format!("{}: {}", t.course, state.unwrap_or_default())
            })
            .collect();
        let cells = [
            r.user_id.clone(),
            r.email.clone().unwrap_or_default(),
            r.name.clone().unwrap_or_default(),
            r.directory_user.clone().unwrap_or_default(),
            r.access.to_owned(),
            r.refusal.clone().unwrap_or_default(),
            r.grants.join("; "),
            r.roles.join("; "),
            r.accounts.join("; "),
            training.join("; "),
            r.training_expires_on.map(|d| d.to_string()).unwrap_or_default(),
            r.last_sign_in.map(|t| t.rfc3339()).unwrap_or_default(),
            r.last_action.map(|t| t.rfc3339()).unwrap_or_default(),
        ];
        out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The whole review: the users, the break-glass uses still awaiting an
/// admin's acknowledgement, and the posts made outside Custodian.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AccessReview)]
pub struct AccessReview {
    pub users: Vec<ReviewRow>,
    /// Break-glass uses no admin has acknowledged yet.
    pub breakglass: Vec<crate::directory::grants::BreakGlassGrant>,
    /// The accounts' posts no action in the journal names: made outside
    /// Custodian, by someone holding the account's password or an app of the
    /// platform's.
    pub unrecorded_posts: Vec<crate::inbox::UnrecordedPost>,
}

impl AccessReview {
    /// The users' CSV, then, each after a blank line under its own header,
    /// the unacknowledged break-glass uses and the posts made outside Custodian.
    pub fn to_csv(&self) -> String {
        const HEADER: [&str; 8] = [
            "breakglass_id",
            "user_id",
            "email",
            "justification",
            "opened_at",
            "expires_at",
            "ended_at",
            "state",
        ];
        let mut out = to_csv(&self.users);
        out.push_str("\r\n");
        out.push_str(&HEADER.join(","));
        out.push_str("\r\n");
        for g in &self.breakglass {
            let state = serde_json::to_value(g.state).ok().and_then(|v| v.as_str().map(str::to_owned));
            let cells = [
                g.id.clone(),
                g.user_id.clone(),
                g.email.clone().unwrap_or_default(),
                g.justification.clone(),
                g.opened_at.rfc3339(),
                g.expires_at.rfc3339(),
                g.ended_at.map(|t| t.rfc3339()).unwrap_or_default(),
                state.unwrap_or_default(),
            ];
            out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        const POSTS: [&str; 8] = [
            "unrecorded_post",
            "account_id",
            "platform",
            "handle",
            "url",
            "created_at",
            "flagged_at",
            "audit_event_id",
        ];
        out.push_str("\r\n");
        out.push_str(&POSTS.join(","));
        out.push_str("\r\n");
        for p in &self.unrecorded_posts {
            let cells = [
                p.post_id.clone(),
                p.account_id.clone(),
                p.platform.clone(),
                p.handle.clone(),
                p.url.clone().unwrap_or_default(),
                p.created_at.clone().unwrap_or_default(),
                p.flagged_at.map(|t| t.rfc3339()).unwrap_or_default(),
                p.audit_event_id.clone().unwrap_or_default(),
            ];
            out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out
    }
}
