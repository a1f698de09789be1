//! Field-level validation errors, collected so one response can name every bad field.

use serde::Serialize;

/// One invalid input field: its JSON path and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field, such as `business_hours[0].start`.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// An accumulator of field errors.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is invalid.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Records the error of a fallible check, if any.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded errors.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(())` when empty, else the errors.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}

/// Checks a free-text field: trimmed non-empty (when required) and at most `max` characters.
pub fn text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errors.add(field, "must not contain control characters");
    }
}

/// Checks a URL Switchboard will call: absolute `https` (or `http`, when `allow_http`, or when the
/// host is loopback, for local test sinks), with a host and no embedded credentials.
pub fn web_url(value: &str, allow_http: bool) -> Result<url::Url, String> {
    if value.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let parsed = url::Url::parse(value).map_err(|e| format!("must be an absolute URL ({e})"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("must have a host".into()),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http || loopback => {}
        _ => return Err("must use https (http is accepted only for localhost)".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials; requests are signed instead".into());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(web_url("https://pbx.example.com/hook", false).is_ok());
        assert!(web_url("http://127.0.0.1:9000/hook", false).is_ok());
        assert!(web_url("http://pbx.example.com/hook", false).is_err());
        assert!(web_url("http://pbx.example.com/hook", true).is_ok());
        assert!(web_url("https://user:pw@pbx.example.com/", false).is_err());
        assert!(web_url("ftp://pbx.example.com/", false).is_err());
        assert!(web_url("/relative", false).is_err());
    }

    #[test]
    fn text_rules() {
        let mut e = FieldErrors::new();
        text(&mut e, "a", "ok", 5);
        text(&mut e, "b", " ", 5);
        text(&mut e, "c", "toolong", 5);
        text(&mut e, "d", "bell\u{7}", 5);
        let fields: Vec<_> = e.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["b", "c", "d"]);
    }
}
