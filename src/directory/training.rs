//! Training records: who completed which course when, and whether that is
//! still current. Records name a person by email or user name (what a
//! learning-management system exports), lower-cased, so they can be loaded
//! before the person is provisioned or first signs in.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use crate::clock::Timestamp;
use crate::directory::config::{Course, TrainingConfig};
use crate::directory::roles::Role;
use crate::storage::Db;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = TrainingRecord)]
pub struct Record {
    pub user: String,
    pub course: String,
    pub completed_on: NaiveDate,
    /// An expiry the source states; otherwise completion + the course's renewal period.
    #[schema(required = true)]
    pub expires_on: Option<NaiveDate>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TrainingState)]
pub enum State {
    Current,
    /// Current, but expiring within the warning window.
    Expiring,
    Expired,
    Missing,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CourseStatus {
    pub course: String,
    pub state: State,
    #[schema(required = true)]
    pub completed_on: Option<NaiveDate>,
    #[schema(required = true)]
    pub expires_on: Option<NaiveDate>,
}

pub fn date_millis(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0)
}

pub fn millis_date(ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.date_naive()).unwrap_or_default()
}

/// The day a completion stops counting.
pub fn expiry(course: &Course, completed_on: NaiveDate, stated: Option<NaiveDate>) -> NaiveDate {
    stated.unwrap_or_else(|| {
        completed_on.checked_add_months(Months::new(course.renewal_months)).unwrap_or(NaiveDate::MAX)
    })
}

/// Normalizes how a record names a person.
pub fn user_key(s: &str) -> String {
    s.trim().to_lowercase()
}

#[derive(Clone)]
pub struct Training {
    db: Db,
}

impl Training {
    pub fn new(db: Db) -> Self {
        Training { db }
    }

    /// Every record naming any of the keys.
    pub async fn records(&self, keys: &[String]) -> Result<Vec<Record>, sqlx::Error> {
        // No stored key holds a NUL, and PostgreSQL cannot take one as text.
        let keys: Vec<&String> = keys.iter().filter(|k| !k.contains('\0')).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT user_key, course, completed_at, expires_at, source FROM training_records \
             WHERE user_key IN ({}) ORDER BY completed_at",
            crate::storage::placeholders(1, keys.len())
        );
        let mut query = sqlx::query_as::<_, (String, String, i64, Option<i64>, String)>(&sql);
        for key in keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        Ok(rows
            .into_iter()
            .map(|(user, course, done, exp, source)| Record {
                user,
                course,
                completed_on: millis_date(done),
                expires_on: exp.map(millis_date),
                source,
            })
            .collect())
    }

    /// The status of each course the roles require, from the person's records.
    pub async fn status(
        &self,
        config: &TrainingConfig,
        keys: &[String],
        roles: &[Role],
        now: Timestamp,
    ) -> Result<Vec<CourseStatus>, sqlx::Error> {
        let required: Vec<&Course> = config
            .courses
            .iter()
            .filter(|c| c.roles.is_empty() || c.roles.iter().any(|r| roles.contains(r)))
            .collect();
        if required.is_empty() {
            return Ok(Vec::new());
        }
        let records = self.records(keys).await?;
        Ok(required.into_iter().map(|c| course_status(c, &records, config.warn_days, now)).collect())
    }

    /// Writes records in one transaction: all of them or none. A record
    /// already held (same person, course and completion day) is updated.
    pub async fn store(&self, records: &[Record], by: &str, now: Timestamp) -> Result<(), sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        for r in records {
            sqlx::query(
                "INSERT INTO training_records (id, user_key, course, completed_at, expires_at, source, \
                 recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (user_key, course, completed_at) DO UPDATE SET expires_at = excluded.expires_at, \
                 source = excluded.source, recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(user_key(&r.user))
            .bind(&r.course)
            .bind(date_millis(r.completed_on))
            .bind(r.expires_on.map(date_millis))
            .bind(&r.source)
            .bind(now.millis())
            .bind(by)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

fn course_status(course: &Course, records: &[Record], warn_days: u32, now: Timestamp) -> CourseStatus {
    let best = records
        .iter()
        .filter(|r| r.course == course.id)
        .map(|r| (r.completed_on, expiry(course, r.completed_on, r.expires_on)))
        .max_by_key(|(_, exp)| *exp);
    let Some((completed_on, expires_on)) = best else {
        return CourseStatus {
            course: course.id.clone(),
            state: State::Missing,
            completed_on: None,
            expires_on: None,
        };
    };
    let ends = date_millis(expires_on);
    let state = if now.millis() >= ends {
        State::Expired
    } else if ends - now.millis() <= i64::from(warn_days) * DAY_MS {
        State::Expiring
    } else {
        State::Current
    };
    CourseStatus {
        course: course.id.clone(),
        state,
        completed_on: Some(completed_on),
        expires_on: Some(expires_on),
    }
}

/// Parses a training CSV export. The header names the columns, in any order:
/// `user`, `course`, `completed_on` (required), `expires_on`, `source`.
/// Every bad row is reported with its line number; any bad row rejects the file.
pub fn parse_csv(
    text: &str,
    config: &TrainingConfig,
    default_source: &str,
    today: NaiveDate,
) -> Result<Vec<Record>, Vec<String>> {
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![format!("line 1: cannot read the header: {e}")]),
    };
    let column = |names: &[&str]| header.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let (Some(user), Some(course), Some(done)) = (
        column(&["user", "email", "username"]),
        column(&["course"]),
        column(&["completed_on", "completed_at", "completed"]),
    ) else {
        return Err(vec![
            "line 1: the header must name the columns user, course and completed_on (expires_on and source are optional)"
                .to_owned(),
        ]);
    };
    let expires = column(&["expires_on", "expires_at", "expires"]);
    let source = column(&["source"]);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: Option<usize>| i.and_then(|i| row.get(i)).unwrap_or("").to_owned();
        match parse_row(
            [field(Some(user)), field(Some(course)), field(Some(done)), field(expires), field(source)],
            config,
            default_source,
            today,
        ) {
            Ok(r) => records.push(r),
            Err(why) => errors.push(format!("line {line}: {why}")),
        }
    }
    if records.is_empty() && errors.is_empty() {
        errors.push("the file holds no records".to_owned());
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

/// Checks one record's fields: user, course, completed_on, expires_on, source.
pub fn parse_row(
    [user, course, done, expires, source]: [String; 5],
    config: &TrainingConfig,
    default_source: &str,
    today: NaiveDate,
) -> Result<Record, String> {
    if user.is_empty() || user.len() > 254 || user.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("user \"{}\" is not an email address or user name", printable(&user)));
    }
    if config.course(&course).is_none() {
        let known: Vec<&str> = config.courses.iter().map(|c| c.id.as_str()).collect();
        return Err(format!(
            "course \"{}\" is not a configured course (configured: {})",
            printable(&course),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ));
    }
    let completed_on = parse_date(&done)
        .ok_or_else(|| format!("completed_on \"{}\" is not a date (YYYY-MM-DD)", printable(&done)))?;
    if completed_on > today {
        return Err(format!("completed_on {completed_on} is in the future"));
    }
    let expires_on = if expires.is_empty() {
        None
    } else {
        let d = parse_date(&expires)
            .ok_or_else(|| format!("expires_on \"{}\" is not a date (YYYY-MM-DD)", printable(&expires)))?;
        if d <= completed_on {
            return Err(format!("expires_on {d} is not after completed_on {completed_on}"));
        }
        Some(d)
    };
    if source.len() > 200 || source.chars().any(char::is_control) {
        return Err("source must be at most 200 characters, without control characters".to_owned());
    }
    let source = if source.is_empty() { default_source.to_owned() } else { source };
    Ok(Record { user: user_key(&user), course, completed_on, expires_on, source })
}

/// `YYYY-MM-DD`, or an RFC 3339 time whose (UTC) date is taken.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.naive_utc().date()))
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrainingConfig {
        TrainingConfig {
            courses: vec![Course { id: "hipaa-social-media".into(), renewal_months: 12, roles: vec![] }],
            warn_days: 30,
        }
    }

    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn a_good_file_parses_with_columns_in_any_order() {
        let csv = "course,completed_on,user,expires_on\n\
                   hipaa-social-media,2026-01-15,Alice@Example.org,\n\
                   hipaa-social-media,2026-02-01T10:00:00Z,bob,2026-06-30\n";
        let records = parse_csv(csv, &config(), "csv:x.csv", day("2026-11-23")).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].user, "alice@example.org");
        assert_eq!(records[0].source, "csv:x.csv");
        assert_eq!(records[1].completed_on, day("2026-02-01"));
        assert_eq!(records[1].expires_on, Some(day("2026-06-30")));
    }

    #[test]
    fn every_bad_row_is_reported_by_line_and_the_file_is_rejected() {
        let csv = "user,course,completed_on,expires_on\n\
                   alice@example.org,hipaa-social-media,2026-01-15,\n\
                   ,hipaa-social-media,2026-01-15,\n\
                   bob@example.org,fire-safety,2026-01-15,\n\
                   carol@example.org,hipaa-social-media,2026-13-01,\n\
                   dave@example.org,hipaa-social-media,2027-01-01,\n\
                   erin@example.org,hipaa-social-media,2026-01-15,2025-01-01\n";
        let errors = parse_csv(csv, &config(), "csv", day("2026-11-23")).unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].starts_with("line 3: user"), "{}", errors[0]);
        assert!(errors[1].starts_with("line 4: course \"fire-safety\""), "{}", errors[1]);
        assert!(errors[2].starts_with("line 5: completed_on \"2026-13-01\""), "{}", errors[2]);
        assert!(errors[3].starts_with("line 6: completed_on 2027-01-01 is in the future"), "{}", errors[3]);
        assert!(errors[4].starts_with("line 7: expires_on"), "{}", errors[4]);
        let missing = parse_csv("name,when\nx,y\n", &config(), "csv", day("2026-11-23")).unwrap_err();
        assert!(missing[0].contains("header must name"));
        assert!(parse_csv("user,course,completed_on\n", &config(), "csv", day("2026-11-23")).is_err());
    }

    #[test]
    fn status_takes_the_latest_expiry_and_warns_before_it() {
        let c = &config().courses[0];
        let rec = |done: &str, exp: Option<&str>| Record {
            user: "a".into(),
            course: c.id.clone(),
            completed_on: day(done),
            expires_on: exp.map(day),
            source: "t".into(),
        };
        let at = |d: &str| Timestamp(date_millis(day(d)));
        let records = vec![rec("2025-01-10", None), rec("2025-12-01", Some("2026-12-10"))];
        let s = course_status(c, &records, 30, at("2026-10-01"));
        assert_eq!((s.state, s.expires_on), (State::Current, Some(day("2026-12-10"))));
        assert_eq!(course_status(c, &records, 30, at("2026-11-15")).state, State::Expiring);
        let s = course_status(c, &records, 30, at("2026-12-10"));
        assert_eq!(s.state, State::Expired);
        assert_eq!(course_status(c, &[], 30, at("2026-12-10")).state, State::Missing);
        // Without a stated expiry: completion plus twelve months.
        assert_eq!(expiry(c, day("2026-02-28"), None), day("2027-02-28"));
    }
}
