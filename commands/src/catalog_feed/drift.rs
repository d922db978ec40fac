//! What the feed does with one change of the catalog database, decided by a pure function
//! ([`decide`]) from the change, the document schema and the drift policy; and the `warn`
//! lines that report drift ([`log_drift`]), one per finding, naming the document, its
//! revision, the kind and the field path — never the document.
//!
//! - A design document (`_design/…`) is not a product: ignored, not drift.
//! - A deletion is a tombstone (key = id, null value).
//! - A document that converts is published; unknown fields are left out (counted and
//!   logged as `unknown_field`).
//! - A document that cannot be encoded (a missing required field, a value of another type,
//!   something that is not a JSON object, a change without a document or an id) is
//!   dead-lettered as its raw JSON or skipped, as [`DriftPolicy`] says.

use std::collections::BTreeSet;

use apache_avro::types::Value as Avro;
use serde_json::Value as Json;
use shopcore_couch::ChangeRow;
use shopcore_event_schemas::documents::{DocumentSchema, Drift, DriftKind};

/// At most this many findings of one document are logged and named in the `drift_paths`
/// header; the rest are summed up in one line.
pub const MAX_REPORTED: usize = 20;

/// What to do with a document that cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftPolicy {
    /// Leave it out; the checkpoint moves past it.
    Skip,
    /// Publish its JSON to the dead-letter topic.
    DeadLetter,
}

/// The fate of one change.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Publish the value; `drift` holds the tolerated kinds found (unknown fields).
    Publish { value: Avro },
    /// The document was deleted: a null value.
    Tombstone,
    /// Publish the raw JSON (or `null`) to the dead-letter topic.
    DeadLetter { raw: Vec<u8> },
    /// Not published, by policy.
    Skip,
    /// Not a product document (a design document).
    Ignore,
}

/// A decided change: the message key, the disposition and the drift behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The document id (empty when the change has none).
    pub key: String,
    pub rev: Option<String>,
    pub disposition: Disposition,
    pub drift: Vec<Drift>,
}

impl Decision {
    /// The drift kinds found, each once.
    pub fn kinds(&self) -> BTreeSet<DriftKind> {
        self.drift.iter().map(|d| d.kind).collect()
    }

    /// `unknown_field,type_mismatch`: the `drift` header.
    pub fn kinds_header(&self) -> String {
        self.kinds()
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The first [`MAX_REPORTED`] paths, comma-separated: the `drift_paths` header.
    pub fn paths_header(&self) -> String {
        self.drift
            .iter()
            .take(MAX_REPORTED)
            .map(|d| d.path.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Decides what to do with `row`.
pub fn decide(schema: &DocumentSchema, row: &ChangeRow, policy: DriftPolicy) -> Decision {
    let doc_id = row
        .doc
        .as_ref()
        .and_then(|doc| doc.get("_id"))
        .and_then(Json::as_str);
    let key = row.id.as_deref().or(doc_id).unwrap_or_default().to_owned();
    let decision = |disposition, drift| Decision {
        key: key.clone(),
        rev: row.rev.clone(),
        disposition,
        drift,
    };
    if key.starts_with("_design/") {
        return decision(Disposition::Ignore, Vec::new());
    }
    let unencodable = |drift: Vec<Drift>| {
        let disposition = match policy {
            DriftPolicy::Skip => Disposition::Skip,
            DriftPolicy::DeadLetter => Disposition::DeadLetter {
                raw: serde_json::to_vec(row.doc.as_ref().unwrap_or(&Json::Null))
                    .unwrap_or_default(),
            },
        };
        decision(disposition, drift)
    };
    if key.is_empty() {
        return unencodable(vec![Drift {
            kind: DriftKind::TypeMismatch,
            path: "_id".into(),
            detail: "the change has no string id".into(),
        }]);
    }
    if row.deleted {
        return decision(Disposition::Tombstone, Vec::new());
    }
    let Some(doc) = &row.doc else {
        return unencodable(vec![Drift {
            kind: DriftKind::MissingField,
            path: "$".into(),
            detail: "the change has no document".into(),
        }]);
    };
    let converted = schema.from_json(doc);
    match converted.value {
        Some(value) => decision(Disposition::Publish { value }, converted.drift),
        None => unencodable(converted.drift),
    }
}

/// One `warn` line per finding (at most [`MAX_REPORTED`], then one line with the rest).
pub fn log_drift(decision: &Decision, policy: DriftPolicy) {
    let handling = match (&decision.disposition, policy) {
        (Disposition::Publish { .. }, _) => "published without the field",
        (_, DriftPolicy::Skip) => "skipped",
        (_, DriftPolicy::DeadLetter) => "dead-lettered",
    };
    let rev = decision.rev.as_deref().unwrap_or("");
    for drift in decision.drift.iter().take(MAX_REPORTED) {
        tracing::warn!(
            document_id = %decision.key,
            rev,
            kind = drift.kind.as_str(),
            path = %drift.path,
            detail = %drift.detail,
            handling,
            "catalog document drifted from the schema"
        );
    }
    if decision.drift.len() > MAX_REPORTED {
        tracing::warn!(
            document_id = %decision.key,
            rev,
            more = decision.drift.len() - MAX_REPORTED,
            handling,
            "catalog document drifted from the schema in more places"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> &'static DocumentSchema {
        DocumentSchema::product().expect("schema loads")
    }

    fn product(id: &str) -> Json {
        json!({
            "_id": id, "_rev": "1-a", "type": "product",
            "productId": "0190a0b0-0000-7000-8000-000000000001",
            "name": "Shoe", "description": "", "brand": "Acme",
            "attributes": {}, "variants": [], "skus": [], "categories": [], "media": [],
            "status": "draft", "createdAt": "2026-12-01T07:00:00Z",
            "updatedAt": "2026-12-01T07:00:00Z", "version": 1, "logPosition": "1-1"
        })
    }

    fn row(id: Option<&str>, doc: Option<Json>, deleted: bool) -> ChangeRow {
        ChangeRow {
            seq: json!(1),
            id: id.map(str::to_owned),
            rev: Some("1-a".into()),
            deleted,
            doc,
        }
    }

    #[test]
    fn good_unknown_and_broken_documents() {
        let good = decide(
            schema(),
            &row(Some("p1"), Some(product("p1")), false),
            DriftPolicy::DeadLetter,
        );
        assert!(matches!(good.disposition, Disposition::Publish { .. }));
        assert_eq!(good.drift, []);
        assert_eq!(good.kinds_header(), "");

        let mut extra = product("p2");
        extra["ribbon"] = json!("gold");
        let tolerated = decide(
            schema(),
            &row(Some("p2"), Some(extra), false),
            DriftPolicy::Skip,
        );
        assert!(matches!(tolerated.disposition, Disposition::Publish { .. }));
        assert_eq!(tolerated.kinds_header(), "unknown_field");

        let mut broken = product("p3");
        broken["version"] = json!("one");
        broken["ribbon"] = json!("gold");
        let dead = decide(
            schema(),
            &row(Some("p3"), Some(broken.clone()), false),
            DriftPolicy::DeadLetter,
        );
        let Disposition::DeadLetter { raw } = &dead.disposition else {
            panic!("dead-lettered: {dead:?}");
        };
        assert_eq!(serde_json::from_slice::<Json>(raw).unwrap(), broken);
        assert_eq!(dead.kinds_header(), "unknown_field,type_mismatch");
        assert_eq!(dead.paths_header(), "version,ribbon");
        let skipped = decide(
            schema(),
            &row(Some("p3"), Some(broken), false),
            DriftPolicy::Skip,
        );
        assert_eq!(skipped.disposition, Disposition::Skip);
    }

    #[test]
    fn deletions_design_documents_and_garbage() {
        let gone = decide(
            schema(),
            &row(
                Some("p1"),
                Some(json!({"_id": "p1", "_deleted": true})),
                true,
            ),
            DriftPolicy::Skip,
        );
        assert_eq!(
            (gone.key.as_str(), &gone.disposition),
            ("p1", &Disposition::Tombstone)
        );
        let design = decide(
            schema(),
            &row(Some("_design/x"), Some(json!({"views": 1})), false),
            DriftPolicy::Skip,
        );
        assert_eq!(design.disposition, Disposition::Ignore);
        assert_eq!(design.drift, []);

        let no_doc = decide(
            schema(),
            &row(Some("p4"), None, false),
            DriftPolicy::DeadLetter,
        );
        assert_eq!(
            no_doc.disposition,
            Disposition::DeadLetter {
                raw: b"null".to_vec()
            }
        );
        assert_eq!(no_doc.kinds_header(), "missing_field");
        let no_id = decide(
            schema(),
            &row(None, Some(json!({"_id": 7})), true),
            DriftPolicy::DeadLetter,
        );
        assert_eq!(no_id.key, "");
        assert_eq!(no_id.kinds_header(), "type_mismatch");
        for garbage in [
            json!([1]),
            json!("x"),
            json!(3.5),
            json!(null),
            json!({"_id": "p5"}),
        ] {
            let decided = decide(
                schema(),
                &row(Some("p5"), Some(garbage.clone()), false),
                DriftPolicy::Skip,
            );
            assert_eq!(decided.disposition, Disposition::Skip, "{garbage}");
            assert!(!decided.drift.is_empty(), "{garbage}");
        }
    }

    #[test]
    fn headers_name_at_most_twenty_paths() {
        let mut doc = product("p6");
        for n in 0..50 {
            doc[format!("extra{n:02}")] = json!(n);
        }
        let decided = decide(
            schema(),
            &row(Some("p6"), Some(doc), false),
            DriftPolicy::Skip,
        );
        assert_eq!(decided.drift.len(), 50);
        assert_eq!(decided.paths_header().split(',').count(), MAX_REPORTED);
    }
}
