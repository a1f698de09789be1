//! The frame every portal page shares: head, skip link, navigation, sign-out, and the page's own
//! content; and the page an error is shown as.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::{CSRF_FIELD, Visitor};
use crate::error::ApiError;

/// The tenant screens, in the navigation's order: (path under the tenant, label).
pub const TENANT_NAV: &[(&str, &str)] = &[
    ("", "Dashboard"),
    ("providers", "Providers"),
    ("prefixes", "Prefixes"),
    ("extensions", "Extensions"),
    ("numbers", "Numbers"),
    ("policies", "Policies"),
    ("messages", "Messages"),
    ("deliveries", "PBX deliveries"),
    ("route-tester", "Route tester"),
    ("contacts", "Contacts"),
    ("companies", "Companies"),
    ("reply-templates", "Quick replies"),
    ("opt-outs", "Opt-outs"),
    ("users", "People"),
    ("audit", "Audit log"),
    ("settings", "Settings"),
];

/// Where a page sits: who is signed in, and which tenant's screens it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub visitor: &'a Visitor,
    /// The tenant's slug and name.
    pub tenant: Option<(&'a str, &'a str)>,
    /// This page's entry in the navigation (a [`TENANT_NAV`] path, or `tenants`).
    pub current: &'a str,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx may not add inline styles (the CSP refuses them), and every answer is swapped in,
            // so a form's refusal shows in place too.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;
            title { (title) " · Switchboard" }
            link rel="icon" href=(assets::href("icon-192.png"));
            link rel="manifest" href="/portal/manifest.webmanifest";
            meta name="theme-color" content="#0a58ca";
            link rel="stylesheet" href=(assets::href(assets::STYLESHEET));
            script src=(assets::href(assets::HTMX)) defer {}
            script src=(assets::href(assets::SCRIPT)) defer {}
        }
    }
}

/// A whole page: `title` is its `h1` and the document's title.
pub fn page(title: &str, frame: Option<Frame<'_>>, main: Markup) -> Markup {
    let csrf_header = frame.map(|f| format!(r#"{{"X-CSRF-Token":"{}"}}"#, f.visitor.csrf));
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-headers=[csrf_header] {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/portal/" { "Switchboard" }
                    @if let Some(f) = frame {
                        (nav(f))
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (main)
                }
            }
        }
    }
}

fn nav(f: Frame<'_>) -> Markup {
    let who = match (&f.visitor.identity.tenant, &f.visitor.identity.extension) {
        (_, Some(ext)) => format!("extension {ext}"),
        (Some((_, slug)), None) => format!("admin of {slug}"),
        (None, _) => "operator".to_owned(),
    };
    html! {
        nav aria-label="Main" {
            ul {
                @if f.visitor.identity.tenant.is_some() {
                    li { a href="/portal/inbox" aria-current=[(f.current == "inbox").then_some("page")] { "Inbox" } }
                }
                @if f.visitor.is_operator() {
                    li { a href="/portal/tenants" aria-current=[(f.current == "tenants").then_some("page")] { "Tenants" } }
                    li { a href="/portal/usage" aria-current=[(f.current == "usage").then_some("page")] { "Usage" } }
                    @if f.tenant.is_none() {
                        li { a href="/portal/audit" aria-current=[(f.current == "audit").then_some("page")] { "Audit log" } }
                    }
                }
                @if let Some((slug, _)) = f.tenant {
                    @for (path, label) in TENANT_NAV {
                        li {
                            a href={ "/portal/t/" (slug) "/" (path) }
                              aria-current=[(f.current == *path).then_some("page")] { (label) }
                        }
                    }
                }
            }
        }
        div.account {
            @if let Some((_, name)) = f.tenant { span.tenant { (name) } }
            span.who { "Signed in as " (who) }
            a href="/portal/sessions" aria-current=[(f.current == "sessions").then_some("page")] { "Your sessions" }
            a href="/portal/second-factor" aria-current=[(f.current == "second-factor").then_some("page")] { "Second factor" }
            form method="post" action="/portal/sign-out" {
                (csrf(f.visitor))
                button.link type="submit" { "Sign out" }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(visitor: &Visitor) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(visitor.csrf); }
}

/// A notice at the top of a page (`role="status"`, read out by screen readers).
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// An error as a page of its own.
pub fn problem_page(e: &ApiError) -> Markup {
    let title = match e.status().as_u16() {
        404 => "Not found",
        403 => "Not allowed",
        401 => "Sign in again",
        429 => "Too many attempts",
        413 => "Too large",
        s if s >= 500 => "Something went wrong",
        _ => "Not accepted",
    };
    page(
        title,
        None,
        html! {
            p.error role="alert" { (e.detail()) }
            @for f in e.field_errors() {
                p.error { code { (f.field) } ": " (f.message) }
            }
            p { a href="/portal/" { "Back to the portal" } }
        },
    )
}

/// Text that reads as "nothing" where a value is empty.
pub fn none() -> Markup {
    html! { span.muted { "—" } }
}

/// A time as the portal shows it, in `zone` (an IANA name; UTC if it is not one).
pub fn when(at: &DateTime<Utc>, zone: &str) -> String {
    match chrono_tz::Tz::from_str(zone) {
        Ok(tz) => at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
        Err(_) => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

/// A time the API wrote (RFC 3339) as the portal shows it in `zone`; text that is not one, as it is.
pub fn when_text(at: &str, zone: &str) -> String {
    DateTime::parse_from_rfc3339(at).map_or_else(|_| at.to_owned(), |t| when(&t.with_timezone(&Utc), zone))
}
