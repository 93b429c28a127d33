//! What the content screen finds in what an action would say, and the
//! verdict policy gives on it: plain types, so that a refusal can carry
//! its findings to whoever was refused.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// What kind of thing a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Name,
    Relation,
    Room,
    Location,
    Date,
    Age,
    Phone,
    Email,
    Ssn,
    Mrn,
    HealthPlan,
    Account,
    Licence,
    Vehicle,
    Device,
    Url,
    Ip,
    Health,
    PatientConfirm,
    SelfDisclosure,
    Lexicon,
    Media,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Name => "name",
            FindingKind::Relation => "relation",
            FindingKind::Room => "room",
            FindingKind::Location => "location",
            FindingKind::Date => "date",
            FindingKind::Age => "age",
            FindingKind::Phone => "phone",
            FindingKind::Email => "email",
            FindingKind::Ssn => "ssn",
            FindingKind::Mrn => "mrn",
            FindingKind::HealthPlan => "health_plan",
            FindingKind::Account => "account",
            FindingKind::Licence => "licence",
            FindingKind::Vehicle => "vehicle",
            FindingKind::Device => "device",
            FindingKind::Url => "url",
            FindingKind::Ip => "ip",
            FindingKind::Health => "health",
            FindingKind::PatientConfirm => "patient_confirm",
            FindingKind::SelfDisclosure => "self_disclosure",
            FindingKind::Lexicon => "lexicon",
            FindingKind::Media => "media",
        }
    }
}

/// How serious a finding is, for policy: low (an identifier alone), medium
/// (a person with health context, a staff-only term, media), high (a
/// direct identifier: SSN, medical record or health plan number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low = 1,
    Medium = 2,
    High = 3,
}

/// One thing the screen found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub kind: FindingKind,
    #[schema(value_type = String)]
    pub rule: Cow<'static, str>,
    /// Byte offsets into the screened text.
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub severity: Severity,
    #[schema(value_type = String)]
    pub explanation: Cow<'static, str>,
}

/// What happens to an action's content: policy's answer on the findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Goes out.
    Allow,
    /// Waits for a reviewer.
    Hold,
    /// Refused outright.
    Block,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Hold => "hold",
            Verdict::Block => "block",
        }
    }
}
