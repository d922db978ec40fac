//! The recorded subject history and the AsyncAPI document match the schemas.

use shopcore_event_schemas::compat::{self, Finding};
use shopcore_event_schemas::{asyncapi, EventSchemas};

#[test]
fn every_topic_schema_is_recorded_and_backward_compatible() {
    let schemas = EventSchemas::embedded().expect("schemas load");
    let findings = compat::check(schemas, &compat::default_dir()).expect("history readable");
    let problems: Vec<String> = findings
        .iter()
        .filter(|f| !f.is_ok())
        .map(Finding::to_string)
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(findings.len(), schemas.topics().len());
}

#[test]
fn docs_api_asyncapi_yaml_is_up_to_date() {
    let schemas = EventSchemas::embedded().expect("schemas load");
    let generated = asyncapi::yaml(schemas).expect("generate");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api/asyncapi.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == committed,
        "{} is out of date: run `cargo run -p shopcore-event-schemas -- asyncapi > docs/api/asyncapi.yaml`",
        path.display()
    );
}
