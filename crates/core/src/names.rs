//! Syntax of the names that appear in URLs: tenant slugs, inbound prefixes and extensions.

use std::sync::LazyLock;

use regex::Regex;

static SLUG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]{1,62}$").ok());
static PREFIX: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[a-z0-9_-]{3,64}$").ok());
static EXTENSION: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$").ok());

fn matches(re: &LazyLock<Option<Regex>>, value: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(value))
}

/// Path segments Switchboard serves itself; no inbound prefix may take them.
pub const RESERVED_PREFIXES: &[&str] = &[
    "api",
    "healthz",
    "readyz",
    "livez",
    "metrics",
    "docs",
    "openapi",
    "openapi.json",
    "static",
    "assets",
    "admin",
    "login",
    "logout",
    "auth",
    "events",
    "media",
    "webhooks",
    "status",
    "health",
    "ready",
    "favicon.ico",
    "robots.txt",
    "well-known",
    "ingress",
    "portal",
    ".well-known",
];

/// Checks a tenant slug: 2 to 63 of `a-z 0-9 -`, not starting with `-`.
pub fn check_slug(slug: &str) -> Result<(), String> {
    if matches(&SLUG, slug) {
        Ok(())
    } else {
        Err("must be 2 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit".into())
    }
}

/// Normalises an inbound prefix to lower case and checks its syntax and that it is not reserved.
pub fn normalize_prefix(prefix: &str) -> Result<String, String> {
    let lower = prefix.to_ascii_lowercase();
    if !matches(&PREFIX, &lower) {
        return Err("must be 3 to 64 characters of a-z, 0-9, '_' and '-'".into());
    }
    if RESERVED_PREFIXES.contains(&lower.as_str()) {
        return Err(format!("'{lower}' is reserved by Switchboard"));
    }
    Ok(lower)
}

/// Checks an extension as the PBX knows it (`101`, `front-desk`): 1 to 32 URL-safe characters.
pub fn check_extension(ext: &str) -> Result<(), String> {
    if matches(&EXTENSION, ext) {
        Ok(())
    } else {
        Err("must be 1 to 32 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("acme", true)]
    #[case("a1", true)]
    #[case("acme-dental-2", true)]
    #[case("a", false)]
    #[case("-acme", false)]
    #[case("Acme", false)]
    #[case("acme_dental", false)]
    #[case(&"a".repeat(63), true)]
    #[case(&"a".repeat(64), false)]
    fn slugs(#[case] slug: &str, #[case] ok: bool) {
        assert_eq!(check_slug(slug).is_ok(), ok, "{slug}");
    }

    #[rstest]
    #[case("flowrouteinbound", Ok("flowrouteinbound"))]
    #[case("FlowRoute_In-1", Ok("flowroute_in-1"))]
    #[case("ab", Err(()))]
    #[case("has space", Err(()))]
    #[case("api", Err(()))]
    #[case("Metrics", Err(()))]
    #[case("docs", Err(()))]
    fn prefixes(#[case] prefix: &str, #[case] expected: Result<&str, ()>) {
        assert_eq!(normalize_prefix(prefix).map_err(|_| ()), expected.map(str::to_string));
    }

    #[rstest]
    #[case("101", true)]
    #[case("front-desk", true)]
    #[case("", false)]
    #[case("1 01", false)]
    #[case("../x", false)]
    #[case(&"1".repeat(33), false)]
    fn extensions(#[case] ext: &str, #[case] ok: bool) {
        assert_eq!(check_extension(ext).is_ok(), ok, "{ext}");
    }
}
