//! Checks JSON bodies against the schemas of an OpenAPI 3.0 document: `$ref`, `allOf`, `type`,
//! `nullable`, `required`, `properties`, `items`, `enum`, `format: date-time`. Stricter than
//! OpenAPI on one point: a property the schema does not name is an error unless the schema says
//! `additionalProperties: true`, so a misspelt or extra field fails the test.

use serde_json::{Map, Value};

pub struct Contract {
    document: Value,
}

/// The assignment-operations contract, as kept in the repository (`contracts/`); `openapi.rs`
/// holds that copy byte-identical to the shared one wherever the shared folder exists.
pub const ASSIGNMENT_OPERATIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/assignment-operations.openapi.yaml");

impl Contract {
    pub fn load(path: &str) -> Contract {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {path}: {error}"));
        Contract::parse(&text)
    }

    /// A document in YAML or JSON (which is YAML too).
    pub fn parse(text: &str) -> Contract {
        let document =
            serde_yaml::from_str(text).unwrap_or_else(|error| panic!("not an OpenAPI document: {error}"));
        Contract { document }
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// `value` with every `$ref` replaced by what it points at, so two documents can be compared
    /// whatever their components are called.
    pub fn inline(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.contains_key("$ref") => self.inline(self.resolve(value)),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.inline(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|item| self.inline(item)).collect()),
            other => other.clone(),
        }
    }

    /// The schema of the JSON response `status` to `method path` (a path as the document spells
    /// it, e.g. `/admin/monitoring/operations/{operationRun}`).
    pub fn response_schema(&self, method: &str, path: &str, status: u16) -> &Value {
        let response = &self.document["paths"][path][method]["responses"][status.to_string()];
        let schema = &response["content"]["application/json"]["schema"];
        assert!(!schema.is_null(), "the contract has no JSON response {status} for {method} {path}");
        schema
    }

    pub fn check(&self, method: &str, path: &str, status: u16, body: &str) {
        let value: Value = serde_json::from_str(body)
            .unwrap_or_else(|error| panic!("{method} {path}: not JSON ({error}): {body}"));
        let mut problems = Vec::new();
        self.validate(self.response_schema(method, path, status), &value, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{method} {path} {status} breaks the contract:\n{}\n{body}",
            problems.join("\n")
        );
    }

    /// The document's path template a request path falls under (`/_/tenant/12?wait=5` is
    /// `/_/tenant/{operation_id}`), a literal segment winning over a parameter.
    pub fn template_for(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('?').next().unwrap_or_default().split('/').collect();
        let fits = |template: &str| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    part == segment || (part.starts_with('{') && part.ends_with('}') && !segment.is_empty())
                })
        };
        let literal_count =
            |template: &str| template.split('/').filter(|part| !part.starts_with('{')).count();
        self.document["paths"]
            .as_object()?
            .keys()
            .filter(|template| fits(template))
            .max_by_key(|template| literal_count(template))
            .cloned()
    }

    /// A reply as the document describes it: its path and status documented for the method,
    /// with the documented media type, and a JSON body that fits the schema.
    pub fn check_reply(&self, method: &str, path: &str, status: u16, content_type: Option<&str>, body: &str) {
        let template = self.template_for(path).unwrap_or_else(|| panic!("{method} {path} is not documented"));
        let method = method.to_lowercase();
        let responses = &self.document["paths"][&template][&method]["responses"];
        assert!(!responses.is_null(), "{method} {template} is not documented");
        let response = &responses[status.to_string()];
        assert!(
            !response.is_null(),
            "{method} {template} answered {status}, which is not documented: {body}"
        );
        let media = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim();
        match response["content"].as_object() {
            // A status listed without a body (as the contract lists 404) answers with `Error`.
            None if body.is_empty() => {}
            None => {
                assert_eq!(media, "application/json", "{method} {template} {status}: {body}");
                let value: Value = serde_json::from_str(body).unwrap();
                let mut problems = Vec::new();
                self.validate(
                    &serde_json::json!({"$ref": "#/components/schemas/Error"}),
                    &value,
                    "$",
                    &mut problems,
                );
                assert!(
                    problems.is_empty(),
                    "{method} {template} {status} is no Error:\n{}\n{body}",
                    problems.join("\n")
                );
            }
            Some(content) => {
                assert!(content.contains_key(media), "{method} {template} {status} answered {media}: {body}");
                if media == "application/json" {
                    self.check(&method, &template, status, body);
                }
            }
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer =
                    reference.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {reference}"));
                let target =
                    self.document.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"));
                self.resolve(target)
            }
            None => schema,
        }
    }

    /// One object schema from a schema and its `allOf` parts.
    fn flatten(&self, schema: &Value) -> Map<String, Value> {
        let schema = self.resolve(schema);
        let mut flat = schema.as_object().cloned().unwrap_or_default();
        if let Some(parts) = flat.remove("allOf").and_then(|parts| parts.as_array().cloned()) {
            for part in parts {
                let part = self.flatten(&part);
                for (key, value) in part {
                    match (key.as_str(), flat.get_mut(&key)) {
                        ("properties", Some(Value::Object(mine))) => {
                            mine.extend(value.as_object().cloned().unwrap_or_default());
                        }
                        ("required", Some(Value::Array(mine))) => {
                            mine.extend(value.as_array().cloned().unwrap_or_default());
                        }
                        _ => {
                            flat.insert(key, value);
                        }
                    }
                }
            }
        }
        flat
    }

    pub fn validate(&self, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
        let schema = self.flatten(schema);
        if value.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                problems.push(format!("{at}: null where the schema does not allow it"));
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                problems.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        let kind = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(if schema.contains_key("properties") { "object" } else { "any" });
        let matches = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !matches {
            problems.push(format!("{at}: expected {kind}, got {value}"));
            return;
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time") {
            let text = value.as_str().unwrap_or_default();
            if chrono::DateTime::parse_from_rfc3339(text).is_err() {
                problems.push(format!("{at}: `{text}` is not an RFC 3339 date-time"));
            } else if !text.ends_with('Z') {
                problems.push(format!("{at}: `{text}` is not in UTC"));
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (n, item) in array.iter().enumerate() {
                self.validate(items, item, &format!("{at}[{n}]"), problems);
            }
        }
        if let Some(object) = value.as_object() {
            let properties = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    problems.push(format!("{at}: missing required `{name}`"));
                }
            }
            let additional = schema.get("additionalProperties");
            for (name, field) in object {
                match properties.get(name) {
                    Some(property) => self.validate(property, field, &format!("{at}.{name}"), problems),
                    None => match additional {
                        Some(Value::Bool(true)) => {}
                        Some(extra @ Value::Object(_)) => {
                            self.validate(extra, field, &format!("{at}.{name}"), problems)
                        }
                        _ => problems.push(format!("{at}: `{name}` is not in the contract")),
                    },
                }
            }
        }
    }
}

/// The checker itself must catch what it is there to catch.
pub fn self_check(contract: &Contract) {
    let summary = serde_json::json!({ "$ref": "#/components/schemas/OperationRunSummary" });
    let good = serde_json::json!({ "id": 1, "type": "t", "status": "queued", "outcome": "pending",
                                   "createdAt": "2026-11-22T08:00:00Z" });
    let mut problems = Vec::new();
    contract.validate(&summary, &good, "$", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    for bad in [
        serde_json::json!({ "id": "1", "type": "t", "status": "queued", "outcome": "pending", "createdAt": "2026-11-22T08:00:00Z" }),
        serde_json::json!({ "id": 1, "type": "t", "status": "queued", "outcome": "pending" }),
        serde_json::json!({ "id": 1, "type": "t", "status": "queued", "outcome": "pending", "createdAt": "yesterday" }),
        serde_json::json!({ "id": 1, "type": "t", "status": "queued", "outcome": "pending", "created_at": "2026-11-22T08:00:00Z",
                            "createdAt": "2026-11-22T08:00:00Z" }),
    ] {
        let mut problems = Vec::new();
        contract.validate(&summary, &bad, "$", &mut problems);
        assert!(!problems.is_empty(), "the checker let {bad} through");
    }
}
