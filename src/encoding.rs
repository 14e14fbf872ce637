//! Percent-encoding for ids in URL paths and values in query strings.

/// Every byte but the unreserved characters (`A–Z a–z 0–9 - _ . ~`) as `%XX`.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::percent_encode("a b/c?d=é~"), "a%20b%2Fc%3Fd%3D%C3%A9~");
    }
}
