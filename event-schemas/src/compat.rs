//! BACKWARD compatibility of topic value schemas against their recorded history.
//!
//! `event-schemas/subjects/<subject>/v<N>.avsc` holds every version of each subject's schema as
//! it was released. [`check`] compares the current schema of each topic with the newest recorded
//! version: the same is fine; a change must be BACKWARD compatible (consumers on the new schema
//! can read data written with the previous one — the registry's default rule) and must then be
//! recorded as the next version with `shopcore-event-schemas record`, so that the next change
//! is checked against it.

use std::fmt;
use std::path::{Path, PathBuf};

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::Schema;
use serde_json::Value as Json;

use crate::schemas::EventSchemas;

/// The recorded history directory of this crate.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("subjects")
}

/// What [`check`] found for one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The current schema is the newest recorded version.
    Unchanged { subject: String, version: u32 },
    /// Changed compatibly; needs recording as `next`.
    Unrecorded { subject: String, next: u32 },
    /// No history yet.
    New { subject: String },
    /// Not BACKWARD compatible with the newest recorded version.
    Incompatible {
        subject: String,
        version: u32,
        reason: String,
    },
}

impl Finding {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Unchanged { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchanged { subject, version } => write!(f, "{subject}: unchanged (v{version})"),
            Self::Unrecorded { subject, next } => write!(
                f,
                "{subject}: changed compatibly; record it as v{next} with `cargo run -p shopcore-event-schemas -- record`"
            ),
            Self::New { subject } => write!(
                f,
                "{subject}: new subject; record it as v1 with `cargo run -p shopcore-event-schemas -- record`"
            ),
            Self::Incompatible {
                subject,
                version,
                reason,
            } => write!(
                f,
                "{subject}: NOT backward compatible with v{version}: {reason}"
            ),
        }
    }
}

/// Whether a reader with `current` can read data written with `previous`.
pub fn backward_compatible(previous: &Schema, current: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(previous, current) {
        Ok(Compatibility::Full) => Ok(()),
        // A union whose old branches are not all readable: old data of those would fail.
        Ok(Compatibility::Partial) => {
            Err("some branches of the previous schema cannot be read by the new one".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Checks every topic of `schemas` against the history in `dir`.
pub fn check(schemas: &EventSchemas, dir: &Path) -> anyhow::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for topic in schemas.topics() {
        let current: Json = serde_json::from_str(&topic.schema_json)?;
        findings.push(check_subject(
            dir,
            &topic.spec.value_subject(),
            &current,
            &topic.schema,
        )?);
    }
    Ok(findings)
}

/// Checks one subject's current schema (`current_json`, parsed as `current`) against its
/// history in `dir`.
pub fn check_subject(
    dir: &Path,
    subject: &str,
    current_json: &Json,
    current: &Schema,
) -> anyhow::Result<Finding> {
    let subject = subject.to_owned();
    Ok(match latest(dir, &subject)? {
        None => Finding::New { subject },
        Some((version, previous_json)) => {
            if previous_json == *current_json {
                Finding::Unchanged { subject, version }
            } else {
                let previous = Schema::parse(&previous_json).map_err(|e| {
                    anyhow::anyhow!("{subject} v{version}: recorded schema does not parse: {e}")
                })?;
                match backward_compatible(&previous, current) {
                    Ok(()) => Finding::Unrecorded {
                        subject,
                        next: version + 1,
                    },
                    Err(reason) => Finding::Incompatible {
                        subject,
                        version,
                        reason,
                    },
                }
            }
        }
    })
}

/// Records new and compatibly changed subjects as their next version. Refuses (and writes
/// nothing) when any subject is incompatible.
pub fn record(schemas: &EventSchemas, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let findings = check(schemas, dir)?;
    if let Some(bad) = findings
        .iter()
        .find(|f| matches!(f, Finding::Incompatible { .. }))
    {
        anyhow::bail!("{bad}");
    }
    let mut written = Vec::new();
    for finding in findings {
        let (subject, version) = match finding {
            Finding::New { subject } => (subject, 1),
            Finding::Unrecorded { subject, next } => (subject, next),
            _ => continue,
        };
        let topic = schemas
            .topics()
            .iter()
            .find(|t| t.spec.value_subject() == subject)
            .expect("finding of a known topic");
        let json: Json = serde_json::from_str(&topic.schema_json)?;
        let path = dir.join(&subject).join(format!("v{version}.avsc"));
        std::fs::create_dir_all(path.parent().expect("has parent"))?;
        std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")?;
        written.push(path);
    }
    Ok(written)
}

/// The newest recorded version of `subject`.
fn latest(dir: &Path, subject: &str) -> anyhow::Result<Option<(u32, Json)>> {
    let subject_dir = dir.join(subject);
    if !subject_dir.is_dir() {
        return Ok(None);
    }
    let mut newest: Option<(u32, PathBuf)> = None;
    for entry in std::fs::read_dir(&subject_dir)? {
        let path = entry?.path();
        let version = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix('v'))
            .and_then(|n| n.strip_suffix(".avsc"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(version) = version {
            if newest.as_ref().is_none_or(|(v, _)| version > *v) {
                newest = Some((version, path));
            }
        }
    }
    match newest {
        None => Ok(None),
        Some((version, path)) => {
            let text = std::fs::read_to_string(&path)?;
            let json = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(Some((version, json)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Schema {
        Schema::parse_str(json).expect("valid schema")
    }

    const V1: &str =
        r#"[{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"}]}]"#;

    #[test]
    fn adding_an_optional_field_or_a_branch_is_backward_compatible() {
        let with_default = r#"[{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"},{"name":"y","type":["null","string"],"default":null}]}]"#;
        assert_eq!(
            backward_compatible(&parse(V1), &parse(with_default)),
            Ok(())
        );
        let new_branch = r#"[{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"}]},{"type":"record","name":"B","namespace":"t","fields":[]}]"#;
        assert_eq!(backward_compatible(&parse(V1), &parse(new_branch)), Ok(()));
    }

    #[test]
    fn a_required_new_field_a_changed_type_or_a_dropped_branch_is_not() {
        let required = r#"[{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"},{"name":"y","type":"string"}]}]"#;
        assert!(backward_compatible(&parse(V1), &parse(required)).is_err());
        let retyped = r#"[{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"long"}]}]"#;
        assert!(backward_compatible(&parse(V1), &parse(retyped)).is_err());
        let two = r#"[{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"}]},{"type":"record","name":"B","namespace":"t","fields":[]}]"#;
        let dropped = r#"[{"type":"record","name":"B","namespace":"t","fields":[]}]"#;
        assert!(backward_compatible(&parse(two), &parse(dropped)).is_err());
    }
}
