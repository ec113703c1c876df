//! The published report schema (`schema/report.v1.schema.json`), which every record a test
//! sees must match.

use serde_json::Value;
use std::sync::OnceLock;

/// The schema's validator, read once.
pub fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/report.v1.schema.json"
        ))
        .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    })
}

/// Asserts that one device record matches the schema.
pub fn assert_valid_report(report: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}\n{report:#}");
}

/// Asserts that a `--format json` document is a run whose every record matches the schema;
/// returns the records.
pub fn assert_valid_run(run: &Value) -> &Vec<Value> {
    assert_eq!(run["schema"], "appsweep.run.v1", "{run:#}");
    let reports = run["reports"].as_array().unwrap();
    for r in reports {
        assert_valid_report(r);
    }
    reports
}
