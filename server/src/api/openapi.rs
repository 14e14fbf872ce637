//! `/api/openapi.json`: one OpenAPI document for every JSON route. Each api module keeps the
//! operations of its routes in a fragment beside its handlers (`<module>.openapi.json`, with the
//! schemas only it uses); they are merged onto `openapi.json`, which holds what all share: the
//! document's info, the security schemes and the error bodies.
//!
//! Every operation names who may call it (`security`: the session or a token) and, in
//! `x-token-scopes`, the scope sets that let a token in: any one set, all of its scopes.

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// The shared part every fragment is merged onto.
const BASE: &str = include_str!("openapi.json");

/// The document, merged once; a fragment that repeats a path or a schema is a build mistake
/// that the first request (and the tests) would name.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let merged = merge(BASE, &super::OPENAPI_FRAGMENTS).unwrap_or_else(|mistake| panic!("{mistake}"));
    serde_json::to_string_pretty(&merged).unwrap_or_else(|error| panic!("the document is not JSON: {error}"))
});

/// The served document, as JSON text.
pub fn document() -> &'static str {
    &DOCUMENT
}

/// `GET /api/openapi.json`. Tests hold it to the contract file and check the routes' answers
/// against it.
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

/// `base` with each fragment's paths and component entries added; no path or component may be
/// declared twice.
fn merge(base: &str, fragments: &[(&str, &str)]) -> Result<Value, String> {
    let mut document: Value = serde_json::from_str(base).map_err(|error| format!("openapi.json: {error}"))?;
    for (name, text) in fragments {
        let fragment: Value = serde_json::from_str(text).map_err(|error| format!("{name}: {error}"))?;
        let paths = fragment["paths"].as_object().cloned().unwrap_or_default();
        add_all(&mut document["paths"], paths, name, "path")?;
        for (kind, entries) in fragment["components"].as_object().cloned().unwrap_or_default() {
            let entries = entries.as_object().cloned().unwrap_or_default();
            add_all(&mut document["components"][&kind], entries, name, &kind)?;
        }
    }
    Ok(document)
}

fn add_all(into: &mut Value, entries: Map<String, Value>, fragment: &str, what: &str) -> Result<(), String> {
    if into.is_null() {
        *into = Value::Object(Map::new());
    }
    let target = into.as_object_mut().ok_or_else(|| format!("{what} of the base is not an object"))?;
    for (key, value) in entries {
        if target.contains_key(&key) {
            return Err(format!("{fragment} declares {what} `{key}` again"));
        }
        target.insert(key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`.
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => found.push(reference),
                        _ => references(value, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| references(item, found)),
            _ => {}
        }
    }

    #[test]
    fn the_fragments_merge_into_one_document_whose_references_all_resolve() {
        let document: Value = serde_json::from_str(document()).unwrap();
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(!found.is_empty());
        for reference in found {
            let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {reference}"));
            assert!(document.pointer(pointer).is_some(), "dangling $ref {reference}");
        }
        for (path, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                assert!(operation["security"].is_array(), "{method} {path} names no security");
                assert!(operation["x-token-scopes"].is_array(), "{method} {path} names no token scopes");
                assert!(operation["responses"].is_object(), "{method} {path} has no responses");
            }
        }
    }

    #[test]
    fn a_path_or_schema_declared_twice_is_refused() {
        let base = r#"{"paths": {}, "components": {"schemas": {"Error": {}}}}"#;
        let first = r#"{"paths": {"/a": {}}}"#;
        assert_eq!(
            merge(base, &[("one", first), ("two", first)]).unwrap_err(),
            "two declares path `/a` again"
        );
        let schema = r#"{"components": {"schemas": {"Error": {}}}}"#;
        assert_eq!(merge(base, &[("one", schema)]).unwrap_err(), "one declares schemas `Error` again");
        let merged = merge(base, &[("one", first), ("two", r#"{"components": {"parameters": {"p": {}}}}"#)]);
        assert_eq!(merged.unwrap()["components"]["parameters"]["p"], serde_json::json!({}));
    }
}
