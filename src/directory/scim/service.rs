//! The SCIM operations (RFC 7644 §3): create, get, list with filter and
//! paging, replace, patch and delete, for Users and Groups.
//!
//! Each write is recorded in the audit journal (with before and after)
//! before it is stored, and every write that can take access away re-runs
//! the gate for the users it touches before the call returns, so their
//! sessions have ended by the time the IdP hears "done". Writes on one node
//! are serialized, and each row's version guards against a second node.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::filter::{self, AttrPath, CompareOp, Filter};
use super::patch::{self, OpKind, PatchOp};
use super::schema::{self, BodyOrigin, Projection, ResourceType};
use super::ScimError;
use crate::audit::{Actor, Change, EventKind, RequestMeta, Trigger};
use crate::directory::store::{Column, Conditions, GroupRow, Member, StoreError, UserRow};
use crate::directory::Directory;

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Ids listed in one audit event's `added` / `removed`.
const AUDIT_ID_SAMPLE: usize = 100;

/// The IdP making the call, known by the configured name of the token it
/// presented (never the token).
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_name: String,
    pub meta: RequestMeta,
}

impl Caller {
    fn by(&self) -> String {
        format!("scim:{}", self.token_name)
    }
}

/// `startIndex` and `count` as served: 1-based, at most `max` per page.
fn page_bounds(q: &ListQuery, max: usize) -> (i64, i64) {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    (q.start_index.unwrap_or(1).max(1), q.count.unwrap_or(max).clamp(0, max))
}

fn list_response(total: usize, start: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn parse_filter(q: &ListQuery) -> Result<Option<Filter>, ScimError> {
    let Some(text) = q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let parsed = filter::parse(text)?;
    if holds_nul(&parsed) {
        return Err(ScimError::invalid_filter("filter values must not contain NUL characters"));
    }
    Ok(Some(parsed))
}

/// Whether a comparison value holds a NUL (no stored value does, and
/// PostgreSQL cannot take one as text).
fn holds_nul(f: &Filter) -> bool {
    match f {
        Filter::Compare { value: Value::String(s), .. } => s.contains('\0'),
        Filter::Compare { .. } | Filter::Present(_) => false,
        Filter::And(a, b) | Filter::Or(a, b) => holds_nul(a) || holds_nul(b),
        Filter::Not(a) | Filter::ValuePath { filter: a, .. } => holds_nul(a),
    }
}

/// Ids are UUIDs; anything else (including a NUL, which PostgreSQL cannot
/// take as text) names no resource.
fn known_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub projection: Projection,
}

#[derive(Clone)]
pub struct Scim {
    dir: Directory,
    /// `https://host/scim/v2`, for `meta.location` and `$ref`.
    base: String,
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl Scim {
    pub fn new(dir: Directory, base: String) -> Self {
        Scim {
            dir,
            base: base.trim_end_matches('/').to_owned(),
            writes: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn location(&self, kind: ResourceType, id: &str) -> String {
        format!("{}/{}/{id}", self.base, kind.endpoint())
    }

    fn meta(&self, kind: ResourceType, id: &str, created: i64, updated: i64, version: i64) -> Value {
        json!({
            "resourceType": kind.name(),
            "created": crate::clock::Timestamp(created).rfc3339(),
            "lastModified": crate::clock::Timestamp(updated).rfc3339(),
            "location": self.location(kind, id),
            "version": format!("W/\"{version}\""),
        })
    }

    /// A user as served: schemas, id, the stored attributes, groups, meta.
    async fn render_user(&self, row: &UserRow, with_groups: bool) -> Result<Value, ScimError> {
        let mut out = Map::new();
        let mut schemas = vec![json!(schema::USER)];
        if row.resource.get(schema::ENTERPRISE_USER).is_some() {
            schemas.push(json!(schema::ENTERPRISE_USER));
        }
        out.insert("schemas".into(), Value::Array(schemas));
        out.insert("id".into(), json!(row.id));
        if let Value::Object(fields) = &row.resource {
            out.extend(fields.clone());
        }
        if with_groups {
            let groups = self.dir.store.groups_of(&row.id).await?;
            if !groups.is_empty() {
                let list: Vec<Value> = groups
                    .iter()
                    .map(|(id, name)| {
                        json!({"value": id, "$ref": self.location(ResourceType::Group, id), "display": name, "type": "direct"})
                    })
                    .collect();
                out.insert("groups".into(), Value::Array(list));
            }
        }
        let meta = self.meta(
            ResourceType::User,
            &row.id,
            row.created_at.millis(),
            row.updated_at.millis(),
            row.version,
        );
        out.insert("meta".into(), meta);
        Ok(Value::Object(out))
    }

    fn member_values(&self, members: &[Member]) -> Value {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let kind = if m.kind == "Group" { ResourceType::Group } else { ResourceType::User };
                json!({"value": m.id, "$ref": self.location(kind, &m.id), "type": m.kind})
            })
            .collect();
        Value::Array(list)
    }

    fn render_group(&self, row: &GroupRow, members: &[Member]) -> Value {
        let mut out = Map::new();
        out.insert("schemas".into(), json!([schema::GROUP]));
        out.insert("id".into(), json!(row.id));
        if let Value::Object(fields) = &row.resource {
            out.extend(fields.clone());
        }
        if !members.is_empty() {
            out.insert("members".into(), self.member_values(members));
        }
        let meta = self.meta(
            ResourceType::Group,
            &row.id,
            row.created_at.millis(),
            row.updated_at.millis(),
            row.version,
        );
        out.insert("meta".into(), meta);
        Value::Object(out)
    }

    async fn load_user(&self, id: &str) -> Result<UserRow, ScimError> {
        let missing = || ScimError::not_found(format!("no User with id {}", id.escape_default()));
        if !known_id(id) {
            return Err(missing());
        }
        self.dir.store.user(id).await?.ok_or_else(missing)
    }

    async fn load_group(&self, id: &str) -> Result<(GroupRow, Vec<Member>), ScimError> {
        let missing = || ScimError::not_found(format!("no Group with id {}", id.escape_default()));
        if !known_id(id) {
            return Err(missing());
        }
        let row = self.dir.store.group(id).await?.ok_or_else(missing)?;
        let members = self.dir.store.members(id).await?;
        Ok((row, members))
    }

    pub async fn get(
        &self,
        kind: ResourceType,
        id: &str,
        projection: &Projection,
    ) -> Result<Value, ScimError> {
        let rendered = match kind {
            ResourceType::User => self.render_user(&self.load_user(id).await?, true).await?,
            ResourceType::Group => {
                let (row, members) = self.load_group(id).await?;
                self.render_group(&row, &members)
            }
        };
        Ok(projection.apply(kind, rendered))
    }

    /// A page of resources matching the filter (RFC 7644 §3.4.2). Equality
    /// on `id`, `userName`, `externalId` and `displayName`, joined by `and`
    /// (what Okta and Entra ID send), is answered from indexes; any other
    /// valid filter is evaluated over the resources.
    pub async fn list(&self, kind: ResourceType, q: &ListQuery) -> Result<Value, ScimError> {
        let (start, count) = page_bounds(q, self.dir.config().scim.max_results);
        let parsed = parse_filter(q)?;
        let conditions = match &parsed {
            None => Some(Vec::new()),
            Some(f) => indexed_conditions(kind, f),
        };
        let (total, page) = match conditions {
            Some(conds) => self.indexed_page(kind, &conds, start - 1, count).await?,
            None => self.scanned_page(kind, parsed.as_ref(), start - 1, count).await?,
        };
        let resources: Vec<Value> = page.into_iter().map(|r| q.projection.apply(kind, r)).collect();
        Ok(list_response(usize::try_from(total).unwrap_or(0), start, resources))
    }

    async fn indexed_page(
        &self,
        kind: ResourceType,
        conds: &Conditions,
        offset: i64,
        count: i64,
    ) -> Result<(i64, Vec<Value>), ScimError> {
        let mut out = Vec::new();
        let total = match kind {
            ResourceType::User => {
                let (total, rows) = self.dir.store.users(conds, offset, count).await?;
                for row in &rows {
                    out.push(self.render_user(row, true).await?);
                }
                total
            }
            ResourceType::Group => {
                let (total, rows) = self.dir.store.groups(conds, offset, count).await?;
                for row in &rows {
                    out.push(self.render_group(row, &self.dir.store.members(&row.id).await?));
                }
                total
            }
        };
        Ok((total, out))
    }

    async fn scanned_page(
        &self,
        kind: ResourceType,
        filter: Option<&Filter>,
        offset: i64,
        count: i64,
    ) -> Result<(i64, Vec<Value>), ScimError> {
        let case_exact = |p: &AttrPath| kind.case_exact(p.schema.as_deref(), &p.attr, p.sub_attr.as_deref());
        let mut matched = Vec::new();
        match kind {
            ResourceType::User => {
                let with_groups = filter.is_some_and(|f| mentions(f, "groups"));
                for row in self.dir.store.all_users().await? {
                    let doc = self.render_user(&row, with_groups).await?;
                    if filter.is_none_or(|f| f.matches(&doc, &case_exact)) {
                        matched.push(doc);
                    }
                }
            }
            ResourceType::Group => {
                for row in self.dir.store.all_groups().await? {
                    let doc = self.render_group(&row, &self.dir.store.members(&row.id).await?);
                    if filter.is_none_or(|f| f.matches(&doc, &case_exact)) {
                        matched.push(doc);
                    }
                }
            }
        }
        let total = i64::try_from(matched.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(count).unwrap_or(0);
        Ok((total, matched.into_iter().skip(skip).take(take).collect()))
    }

    /// `POST /.search` at the root: Users, then Groups, each filtered and
    /// projected by its own schema (RFC 7644 §3.4.3).
    pub async fn search_all(&self, q: &ListQuery) -> Result<Value, ScimError> {
        let (start, count) = page_bounds(q, self.dir.config().scim.max_results);
        let parsed = parse_filter(q)?;
        let mut all = Vec::new();
        for kind in [ResourceType::User, ResourceType::Group] {
            let (_, docs) = self.scanned_page(kind, parsed.as_ref(), 0, i64::MAX).await?;
            all.extend(docs.into_iter().map(|d| q.projection.apply(kind, d)));
        }
        let total = all.len();
        let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
        let page: Vec<Value> = all.into_iter().skip(skip).take(usize::try_from(count).unwrap_or(0)).collect();
        Ok(list_response(total, start, page))
    }

    async fn record(
        &self,
        caller: &Caller,
        change: Change,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<(), ScimError> {
        let kind = EventKind::Change { change, by: caller.by(), before, after };
        self.dir.journal().record(&caller.meta, Actor::default(), kind).await?;
        Ok(())
    }

    /// Re-runs the gate for linked users; audit failures surface as 503.
    async fn reassess(
        &self,
        ids: Vec<String>,
        trigger: Trigger,
        caller: &Caller,
        changed: bool,
    ) -> Result<(), ScimError> {
        if ids.is_empty() {
            return Ok(());
        }
        match self.dir.reassess(&ids, trigger, &caller.by(), &caller.meta, changed).await {
            Ok(_) => Ok(()),
            Err(crate::directory::DirectoryError::Audit(e)) => Err(e.into()),
            Err(crate::directory::DirectoryError::Storage(e)) => Err(e.into()),
            Err(other) => Err(ScimError::internal(&other.to_string())),
        }
    }

    pub async fn create(
        &self,
        kind: ResourceType,
        body: &Value,
        caller: &Caller,
    ) -> Result<Value, ScimError> {
        let _serial = self.writes.lock().await;
        let now = self.dir.now();
        let id = uuid::Uuid::new_v4().to_string();
        match kind {
            ResourceType::User => {
                let mut resource = schema::normalize(kind, body, BodyOrigin::Request)?;
                let active = resource.get("active").and_then(Value::as_bool).unwrap_or(true);
                set(&mut resource, "active", json!(active));
                let row = user_row(id, resource, 1, now.millis(), now.millis())?;
                if !self.dir.store.user_by_user_name(&row.user_name).await?.is_empty() {
                    return Err(ScimError::uniqueness(format!(
                        "a User with userName \"{}\" exists",
                        row.user_name
                    )));
                }
                self.record(caller, Change::UserCreate, None, Some(user_summary(&row))).await?;
                self.dir.store.insert_user(&row).await.map_err(store_error)?;
                self.render_user(&row, true).await
            }
            ResourceType::Group => {
                let mut resource = schema::normalize(kind, body, BodyOrigin::Request)?;
                let members = self.take_members(&mut resource, &[]).await?;
                let row = group_row(id, resource, 1, now.millis(), now.millis())?;
                let after = group_summary(&row, &members, &members, &[]);
                self.record(caller, Change::GroupCreate, None, Some(after)).await?;
                self.dir.store.insert_group(&row, &members).await.map_err(store_error)?;
                Ok(self.render_group(&row, &members))
            }
        }
    }

    pub async fn replace(
        &self,
        kind: ResourceType,
        id: &str,
        body: &Value,
        caller: &Caller,
    ) -> Result<Value, ScimError> {
        let _serial = self.writes.lock().await;
        let mut resource = schema::normalize(kind, body, BodyOrigin::Request)?;
        match kind {
            ResourceType::User => {
                // A PUT that leaves `active` out leaves it as it was: Okta's
                // PUTs echo it, Entra ID does not PUT users at all.
                self.write_user(id, Change::UserReplace, caller, |current| {
                    if resource.get("active").is_none() {
                        set(&mut resource, "active", current.get("active").cloned().unwrap_or(json!(true)));
                    }
                    Ok(resource)
                })
                .await
            }
            ResourceType::Group => self.write_group(id, Change::GroupReplace, caller, |_| Ok(resource)).await,
        }
    }

    /// Applies a PatchOp request. Users answer with the resource, Groups
    /// with `None` (204: Entra ID expects no body, and a large group's
    /// member list would be costly to send back).
    pub async fn patch(
        &self,
        kind: ResourceType,
        id: &str,
        body: &Value,
        caller: &Caller,
    ) -> Result<Option<Value>, ScimError> {
        let _serial = self.writes.lock().await;
        let ops = expand_pathless(patch::parse_request(body)?);
        let read_only = kind.read_only();
        let apply = |mut doc: Value| -> Result<Value, ScimError> {
            patch::apply(&mut doc, &ops, &read_only)?;
            schema::normalize(kind, &doc, BodyOrigin::Patched)
        };
        match kind {
            ResourceType::User => self.write_user(id, Change::UserPatch, caller, apply).await.map(Some),
            ResourceType::Group => {
                self.write_group(id, Change::GroupPatch, caller, apply).await.map(|_| None)
            }
        }
    }

    /// The shared update path for a user: `f` turns the current resource
    /// into the new one.
    async fn write_user(
        &self,
        id: &str,
        change: Change,
        caller: &Caller,
        f: impl FnOnce(Value) -> Result<Value, ScimError>,
    ) -> Result<Value, ScimError> {
        let before = self.load_user(id).await?;
        // With its id, so that a client echoing it (Okta) changes nothing.
        let mut current = before.resource.clone();
        set(&mut current, "id", json!(id));
        let resource = f(current)?;
        let now = self.dir.now();
        let after =
            user_row(id.to_owned(), resource, before.version + 1, before.created_at.millis(), now.millis())?;
        let taken =
            self.dir.store.user_by_user_name(&after.user_name).await?.iter().any(|other| other.id != id);
        if taken {
            return Err(ScimError::uniqueness(format!(
                "a User with userName \"{}\" exists",
                after.user_name
            )));
        }
        self.record(caller, change, Some(user_summary(&before)), Some(user_summary(&after))).await?;
        self.dir.store.update_user(&after, before.version).await.map_err(store_error)?;
        if !after.active {
            // Also when it already was inactive: a retry after a failed
            // revocation still ends whatever sessions are left.
            self.reassess(vec![id.to_owned()], Trigger::ScimDeactivated, caller, before.active).await?;
        }
        self.render_user(&after, true).await
    }

    async fn write_group(
        &self,
        id: &str,
        change: Change,
        caller: &Caller,
        f: impl FnOnce(Value) -> Result<Value, ScimError>,
    ) -> Result<Value, ScimError> {
        let (before, old_members) = self.load_group(id).await?;
        let mut current = before.resource.clone();
        set(&mut current, "id", json!(id));
        if !old_members.is_empty() {
            set(&mut current, "members", self.member_values(&old_members));
        }
        let mut resource = f(current)?;
        let members = self.take_members(&mut resource, &old_members).await?;
        let now = self.dir.now();
        let after =
            group_row(id.to_owned(), resource, before.version + 1, before.created_at.millis(), now.millis())?;
        let old_ids: HashSet<&str> = old_members.iter().map(|m| m.id.as_str()).collect();
        let new_ids: HashSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let removed: Vec<Member> =
            old_members.iter().filter(|m| !new_ids.contains(m.id.as_str())).cloned().collect();
        let added: Vec<Member> =
            members.iter().filter(|m| !old_ids.contains(m.id.as_str())).cloned().collect();
        let summary_before = group_summary(&before, &old_members, &[], &[]);
        let summary_after = group_summary(&after, &members, &added, &removed);
        self.record(caller, change, Some(summary_before), Some(summary_after)).await?;
        self.dir.store.update_group(&after, &members, before.version).await.map_err(store_error)?;
        // A rename can move every member out of a role's groups.
        let affected = if after.display_name.eq_ignore_ascii_case(&before.display_name) {
            &removed
        } else {
            &old_members
        };
        self.reassess(affected.iter().map(|m| m.id.clone()).collect(), Trigger::GroupRemoved, caller, true)
            .await?;
        Ok(self.render_group(&after, &members))
    }

    pub async fn delete(&self, kind: ResourceType, id: &str, caller: &Caller) -> Result<(), ScimError> {
        let _serial = self.writes.lock().await;
        match kind {
            ResourceType::User => {
                let before = self.load_user(id).await?;
                self.record(caller, Change::UserDelete, Some(user_summary(&before)), None).await?;
                self.dir.store.delete_user(id).await?;
                self.reassess(vec![id.to_owned()], Trigger::ScimDeleted, caller, true).await
            }
            ResourceType::Group => {
                let (before, members) = self.load_group(id).await?;
                self.record(
                    caller,
                    Change::GroupDelete,
                    Some(group_summary(&before, &members, &[], &[])),
                    None,
                )
                .await?;
                self.dir.store.delete_group(id).await?;
                self.reassess(
                    members.into_iter().map(|m| m.id).collect(),
                    Trigger::GroupRemoved,
                    caller,
                    true,
                )
                .await
            }
        }
    }

    /// Moves `members` out of a group resource into checked member rows.
    /// Members already in the group are trusted; new ones must exist.
    async fn take_members(
        &self,
        resource: &mut Value,
        existing: &[Member],
    ) -> Result<Vec<Member>, ScimError> {
        let listed = resource.as_object_mut().and_then(|o| o.remove("members")).unwrap_or(Value::Null);
        let known: HashMap<&str, &Member> = existing.iter().map(|m| (m.id.as_str(), m)).collect();
        let mut seen = HashSet::new();
        let (mut members, mut new) = (Vec::new(), Vec::new());
        for item in listed.as_array().map(Vec::as_slice).unwrap_or_default() {
            let id = item.get("value").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() {
                return Err(ScimError::invalid_value("every member needs a \"value\" (the member's id)"));
            }
            if !seen.insert(id.to_owned()) {
                continue;
            }
            match known.get(id) {
                Some(m) => members.push((*m).clone()),
                None => {
                    let group =
                        item.get("type").and_then(Value::as_str).map(|t| t.eq_ignore_ascii_case("group"));
                    new.push((id.to_owned(), group));
                }
            }
        }
        members.extend(self.resolve_members(new).await?);
        Ok(members)
    }

    /// New members: each must be an existing User or Group (of the stated
    /// type, if stated), looked up in batches rather than one by one.
    async fn resolve_members(&self, new: Vec<(String, Option<bool>)>) -> Result<Vec<Member>, ScimError> {
        let ids: Vec<String> = new.iter().map(|(id, _)| id.clone()).filter(|id| known_id(id)).collect();
        let users = self.dir.store.existing_ids("directory_users", &ids).await?;
        let groups = self.dir.store.existing_ids("directory_groups", &ids).await?;
        new.into_iter()
            .map(|(id, group)| {
                let kind = match group {
                    Some(false) | None if users.contains(&id) => "User",
                    Some(true) | None if groups.contains(&id) => "Group",
                    _ => {
                        let why = format!("member {} is not a known User or Group", id.escape_default());
                        return Err(ScimError::invalid_value(why));
                    }
                };
                Ok(Member { id, kind: kind.to_owned() })
            })
            .collect()
    }
}

fn set(resource: &mut Value, key: &str, value: Value) {
    if let Value::Object(o) = resource {
        o.insert(key.to_owned(), value);
    }
}

fn user_row(
    id: String,
    resource: Value,
    version: i64,
    created: i64,
    updated: i64,
) -> Result<UserRow, ScimError> {
    let user_name = resource.get("userName").and_then(Value::as_str).unwrap_or("").to_owned();
    if user_name.trim().is_empty() || user_name.len() > 256 {
        return Err(ScimError::invalid_value("\"userName\" is required and at most 256 characters"));
    }
    let external_id = resource.get("externalId").and_then(Value::as_str).map(str::to_owned);
    // Fail closed: a user whose `active` was removed (PATCH remove) is not active.
    let active = resource.get("active").and_then(Value::as_bool).unwrap_or(false);
    Ok(UserRow {
        id,
        user_name,
        external_id,
        active,
        resource,
        version,
        created_at: crate::clock::Timestamp(created),
        updated_at: crate::clock::Timestamp(updated),
    })
}

fn group_row(
    id: String,
    resource: Value,
    version: i64,
    created: i64,
    updated: i64,
) -> Result<GroupRow, ScimError> {
    let display_name = resource.get("displayName").and_then(Value::as_str).unwrap_or("").to_owned();
    if display_name.trim().is_empty() || display_name.len() > 256 {
        return Err(ScimError::invalid_value("\"displayName\" is required and at most 256 characters"));
    }
    let external_id = resource.get("externalId").and_then(Value::as_str).map(str::to_owned);
    Ok(GroupRow {
        id,
        display_name,
        external_id,
        resource,
        version,
        created_at: crate::clock::Timestamp(created),
        updated_at: crate::clock::Timestamp(updated),
    })
}

fn user_summary(u: &UserRow) -> Value {
    json!({"id": u.id, "userName": u.user_name, "externalId": u.external_id, "active": u.active})
}

fn group_summary(g: &GroupRow, members: &[Member], added: &[Member], removed: &[Member]) -> Value {
    let ids = |m: &[Member]| m.iter().take(AUDIT_ID_SAMPLE).map(|m| m.id.clone()).collect::<Vec<_>>();
    let mut v = json!({"id": g.id, "displayName": g.display_name, "externalId": g.external_id, "members": members.len()});
    if !added.is_empty() {
        set(&mut v, "added", json!(ids(added)));
    }
    if !removed.is_empty() {
        set(&mut v, "removed", json!(ids(removed)));
    }
    v
}

fn store_error(e: StoreError) -> ScimError {
    match e {
        StoreError::Conflict(why) => ScimError::uniqueness(why),
        StoreError::Stale => {
            ScimError::conflict("the resource changed while this request was applied; retry")
        }
        StoreError::Sql(e) => e.into(),
    }
}

/// Equality on indexed attributes, joined by `and`, as store conditions;
/// `None` when the filter needs a scan.
fn indexed_conditions(kind: ResourceType, f: &Filter) -> Option<Conditions> {
    match f {
        Filter::And(a, b) => {
            let mut conds = indexed_conditions(kind, a)?;
            conds.extend(indexed_conditions(kind, b)?);
            Some(conds)
        }
        Filter::Compare { path, op: CompareOp::Eq, value: Value::String(v) } if path.sub_attr.is_none() => {
            let core = path.schema.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(kind.core_urn()));
            let column = match (kind, path.attr.to_ascii_lowercase().as_str()) {
                (_, "id") => Column::Id,
                (_, "externalid") => Column::ExternalId,
                (ResourceType::User, "username") => Column::UserName,
                (ResourceType::Group, "displayname") => Column::DisplayName,
                _ => return None,
            };
            core.then(|| vec![(column, v.clone())])
        }
        _ => None,
    }
}

fn mentions(f: &Filter, attr: &str) -> bool {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => path.attr.eq_ignore_ascii_case(attr),
        Filter::ValuePath { path, .. } => path.attr.eq_ignore_ascii_case(attr),
        Filter::And(a, b) | Filter::Or(a, b) => mentions(a, attr) || mentions(b, attr),
        Filter::Not(a) => mentions(a, attr),
    }
}

/// Microsoft Entra ID (with `aadOptscim062020`) sends a path-less replace
/// whose value keys are paths: `{"name.givenName": "Kkom",
/// "urn:...:enterprise:2.0:User:employeeNumber": "7"}`. Such keys become
/// operations of their own, so they reach the attribute they name.
fn expand_pathless(ops: Vec<PatchOp>) -> Vec<PatchOp> {
    let mut out = Vec::new();
    for op in ops {
        let (None, Some(Value::Object(fields)), OpKind::Add | OpKind::Replace) =
            (&op.path, &op.value, &op.op)
        else {
            out.push(op);
            continue;
        };
        let is_path = |k: &str| {
            k.contains('.') || (k.starts_with("urn:") && k.matches(':').count() > 5 && !is_schema_urn(k))
        };
        if !fields.keys().any(|k| is_path(k)) {
            out.push(op);
            continue;
        }
        let mut plain = Map::new();
        for (k, v) in fields {
            if is_path(k) {
                out.push(PatchOp { op: op.op, path: Some(k.clone()), value: Some(v.clone()) });
            } else {
                plain.insert(k.clone(), v.clone());
            }
        }
        if !plain.is_empty() {
            out.push(PatchOp { op: op.op, path: None, value: Some(Value::Object(plain)) });
        }
    }
    out
}

fn is_schema_urn(k: &str) -> bool {
    [schema::USER, schema::ENTERPRISE_USER, schema::GROUP].iter().any(|s| s.eq_ignore_ascii_case(k))
}
