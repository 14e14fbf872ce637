//! Input rules shared by the forms, the JSON routes and the CLI, so each says the same thing.

use crate::CoreError;

pub const SLUG_MAX: usize = 63;
pub const NAME_MAX: usize = 120;
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 12;
/// Longer inputs only cost hashing time; no real password is this long.
pub const PASSWORD_MAX: usize = 1024;

/// Lower-case letters, digits and inner hyphens: safe in URLs as they are.
pub fn slug(field: &str, value: &str) -> Result<String, CoreError> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value.len() <= SLUG_MAX
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if valid {
        Ok(value.to_string())
    } else {
        Err(CoreError::invalid(
            field,
            format!("Use 1–{SLUG_MAX} lower-case letters, digits and inner hyphens (like contoso-eu)"),
        ))
    }
}

pub fn name(field: &str, value: &str) -> Result<String, CoreError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > NAME_MAX || value.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, format!("Enter a name of 1–{NAME_MAX} characters")));
    }
    Ok(value.to_string())
}

/// E-mail addresses are compared case-insensitively, so they are kept in lower case.
pub fn email(value: &str) -> Result<String, CoreError> {
    let value = value.trim().to_lowercase();
    let well_formed = value.len() <= EMAIL_MAX
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(value.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                && !domain.ends_with('.') && !domain.contains('@'));
    if well_formed {
        Ok(value)
    } else {
        Err(CoreError::invalid("email", "Enter an e-mail address like name@example.com"))
    }
}

pub fn new_password(value: &str) -> Result<(), CoreError> {
    let length = value.chars().count();
    if length < PASSWORD_MIN {
        return Err(CoreError::invalid("password", format!("Use at least {PASSWORD_MIN} characters")));
    }
    if value.len() > PASSWORD_MAX {
        return Err(CoreError::invalid("password", "That password is too long"));
    }
    Ok(())
}

/// `scheme://host:port` of an http(s) URL, lower case, with the scheme's default port written
/// out: two URLs with the same origin send secrets to the same place.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    Some(if has_port {
        format!("{scheme}://{host_port}")
    } else {
        format!("{scheme}://{host_port}:{default_port}")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_are_scheme_host_and_port() {
        use super::origin;
        assert_eq!(origin("https://CI.example.com/hooks?x=1").as_deref(), Some("https://ci.example.com:443"));
        assert_eq!(origin("https://ci.example.com:443").as_deref(), Some("https://ci.example.com:443"));
        assert_eq!(origin("http://user:pw@ci:8080/x").as_deref(), Some("http://ci:8080"));
        assert_ne!(origin("http://ci.example.com"), origin("https://ci.example.com"));
        assert_eq!(origin("ftp://x"), None);
    }

    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("slug", " contoso-eu ").unwrap(), "contoso-eu");
        for bad in ["", "-a", "a-", "Contoso", "a b", "a/b", "ä", &"a".repeat(64)] {
            assert!(slug("slug", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@b@c.de"] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_and_passwords() {
        assert_eq!(name("name", "  Contoso EU ").unwrap(), "Contoso EU");
        assert!(name("name", " ").is_err());
        assert!(name("name", "a\u{0}b").is_err());
        assert!(new_password("short").is_err());
        assert!(new_password("long enough pass").is_ok());
        assert!(new_password(&"x".repeat(2000)).is_err());
    }
}
