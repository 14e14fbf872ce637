//! The pipeline contract as its text gives it: for each route, the JSON of its "Code Block"
//! examples (requests and responses), read leniently where the text is sloppy (a missing
//! opening brace, `//` comments, trailing commas). Answers are held to the examples' shapes.

use serde_json::Value;
use std::collections::BTreeSet;

pub const PIPELINE_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/pipeline-api-v1.txt");

pub struct PipelineContract {
    text: String,
}

impl PipelineContract {
    pub fn load() -> PipelineContract {
        let text = std::fs::read_to_string(PIPELINE_API)
            .unwrap_or_else(|error| panic!("cannot read the pipeline contract at {PIPELINE_API}: {error}"));
        PipelineContract { text }
    }

    /// Every route the contract names, with its method, in order.
    pub fn routes(&self) -> Vec<(String, String)> {
        let lines: Vec<&str> = self.text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
        lines
            .windows(2)
            .filter(|pair| pair[0].starts_with("/api/v1/") && matches!(pair[1], "GET" | "POST"))
            .map(|pair| (pair[1].to_string(), pair[0].to_string()))
            .collect()
    }

    /// The JSON examples of `path`'s section.
    pub fn examples(&self, path: &str) -> Vec<Value> {
        let start =
            self.text.find(&format!("\n{path}\n")).unwrap_or_else(|| panic!("{path} is not in the contract"));
        let section = &self.text[start + path.len() + 2..];
        let end = section.find("\n/api/v1/").unwrap_or(section.len());
        section[..end].split("Code Block").skip(1).filter_map(example).collect()
    }
}

/// The JSON at the start of `text`, which runs until its braces balance.
fn example(text: &str) -> Option<Value> {
    let text = text.trim_start();
    let mut body = if text.starts_with('{') { String::new() } else { "{".to_string() };
    let mut depth = i32::from(!text.starts_with('{'));
    for line in text.lines() {
        let line = line.split(" //").next().unwrap_or_default();
        for c in line.chars() {
            match c {
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
        }
        body.push_str(line);
        body.push('\n');
        if depth == 0 {
            break;
        }
    }
    let mut cleaned = body.replace("“", "\"").replace("”", "\"");
    for close in ["]", "}"] {
        while let Some(at) = trailing_comma(&cleaned, close) {
            cleaned.remove(at);
        }
    }
    serde_json::from_str(&cleaned).ok()
}

fn trailing_comma(text: &str, close: &str) -> Option<usize> {
    let close_at =
        text.match_indices(close).map(|(at, _)| at).find(|at| text[..*at].trim_end().ends_with(','))?;
    Some(text[..close_at].trim_end().len() - 1)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|object| object.keys().cloned().collect()).unwrap_or_default()
}

/// Whether `actual` has exactly the fields of one of `path`'s examples (and, for a page of
/// log entries, its entries have the example entry's fields).
pub fn matches_an_example(contract: &PipelineContract, path: &str, actual: &Value) -> bool {
    contract.examples(path).iter().any(|example| {
        keys(example) == keys(actual)
            && match (
                example.get("data").and_then(Value::as_array),
                actual.get("data").and_then(Value::as_array),
            ) {
                (Some(expected), Some(entries)) => {
                    let expected = expected.first().map(keys).unwrap_or_default();
                    entries.iter().all(|entry| keys(entry) == expected)
                }
                _ => true,
            }
    })
}

#[test]
fn the_contract_text_reads_as_json_examples() {
    let contract = PipelineContract::load();
    assert_eq!(contract.routes().len(), 12, "{:?}", contract.routes());
    let run = contract.examples("/api/v1/pipeline/run");
    assert_eq!(run.len(), 3, "{run:?}");
    assert_eq!(run[1]["status"], "executed");
    assert_eq!(contract.examples("/api/v1/pipeline/reset")[1]["status"], "success");
    assert_eq!(contract.examples("/api/v1/logs/user/tokens")[0]["data"][0]["scope"], "api");
    assert_eq!(contract.examples("/api/v1/pipeline/logs")[0]["type"], "console output");
}
