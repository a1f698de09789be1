//! The portal's own pages: signing in and out, where a person lands, a tenant's dashboard, its
//! message history, a provider's connection check, and the operator's list of tenants.

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::str::FromStr;

use chrono::{TimeZone, Utc};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;
use switchboard_core::Role;
use switchboard_store::PageRequest;

use super::form::text;
use super::layout::{self, Frame, when};
use super::session::{EnrollingSubmission, FormData, Submission, Visitor, check_origin};
use super::{PortalError, html, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::auth::{cleared_cookie, signed_in_cookie, start_session};
use crate::routes::path_id;
use crate::routes::resource::Resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .service(web::resource("/sign-in").route(web::get().to(sign_in_page)).route(web::post().to(sign_in)))
        .route("/sign-out", web::post().to(sign_out))
        .route("/t/{tenant}/", web::get().to(dashboard))
        .route("/t/{tenant}", web::get().to(dashboard_slash))
        .route("/t/{tenant}/providers/{id}/check", web::post().to(check_provider));
}

/// Where a person lands: an operator on the tenants, a tenant admin on their dashboard, an
/// extension user in their inbox.
async fn home(visitor: Visitor) -> Result<HttpResponse, PortalError> {
    match (&visitor.identity.role, &visitor.identity.tenant) {
        (Role::System, _) => Ok(see_other("/portal/tenants")),
        (Role::TenantAdmin, Some((_, slug))) => Ok(see_other(&format!("/portal/t/{slug}/"))),
        _ => Ok(see_other("/portal/inbox")),
    }
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    next: Option<String>,
    /// A notice to show: `password` (an invitation was just accepted).
    done: Option<String>,
}

/// Where to go after signing in: a portal page, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/portal/") && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/portal/".to_owned(),
    }
}

fn sign_in_form(next: &str, email: &str, error: Option<&str>, ask_code: bool, done: Option<&str>) -> Markup {
    layout::page(
        "Sign in",
        None,
        html! {
            @if done == Some("password") { (layout::notice("Your password is set: sign in with your email and it.")) }
            form.fields method="post" action="/portal/sign-in" aria-describedby=[error.map(|_| "sign-in-error")] {
                @if let Some(e) = error { div.errors #sign-in-error role="alert" { p { (e) } } }
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="username" required;
                }
                div.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                }
                @if ask_code {
                    div.field {
                        label for="code" { "Authenticator code (or a recovery code)" }
                        input #code type="text" name="code" autocomplete="one-time-code" inputmode="numeric";
                    }
                }
                button type="submit" { "Sign in" }
            }
            p.help { "Accounts are made by invitation: an operator invites tenant admins, and a tenant admin invites the people of the tenant." }
        },
    )
}

async fn sign_in_page(q: web::Query<SignInQuery>) -> HttpResponse {
    html(sign_in_form(&safe_next(q.next.as_deref()), "", None, false, q.done.as_deref()))
}

/// Signs in with the API's own sign-in (its throttling, its audit record, its session cookie).
async fn sign_in(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    // No session yet, so no token to check: the form must come from the portal's own site.
    check_origin(&req, &state.public_url)?;
    let form = FormData::parse(&body);
    let next = safe_next(form.get("next"));
    let email = form.get("email").unwrap_or_default();
    let password =
        SecretString::from(form.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default());
    let code = form.get("code").filter(|c| !c.is_empty());
    match start_session(&state, &req, email, password, code).await {
        Ok(started) => {
            let mut res = see_other(&next);
            res.add_cookie(&signed_in_cookie(&state, &started)).map_err(|_| ApiError::internal())?;
            Ok(res)
        }
        Err(e) if matches!(e.status().as_u16(), 401 | 429) => {
            let ask_code = matches!(e.code(), "second_factor_required" | "second_factor_invalid");
            let mut res = HttpResponse::build(e.status());
            if let Some(secs) = e.retry_after() {
                res.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            Ok(res
                .content_type("text/html; charset=utf-8")
                .body(sign_in_form(&next, email, Some(e.detail()), ask_code, None).into_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Signs out; also a person who must set up a second factor first.
async fn sign_out(
    state: web::Data<AppState>,
    EnrollingSubmission(sent): EnrollingSubmission,
) -> Result<HttpResponse, PortalError> {
    state.store.end_session(sent.visitor.identity.session_id).await?;
    let mut res = see_other("/portal/sign-in");
    let cleared: Cookie<'static> = cleared_cookie(&state);
    res.add_cookie(&cleared).map_err(|_| ApiError::internal())?;
    Ok(res)
}

async fn dashboard_slash(req: HttpRequest) -> HttpResponse {
    see_other(&format!("{}/", req.path()))
}

/// Today's texts, the work waiting, and each provider's connection.
async fn dashboard(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let slug = scope.tenant.slug.clone();
    let tenant = &scope.tenant;
    // Today as the tenant's people count it: since midnight in its time zone.
    let zone = chrono_tz::Tz::from_str(&tenant.timezone).unwrap_or(chrono_tz::UTC);
    let today = Utc::now().with_timezone(&zone).date_naive();
    let midnight = today
        .and_hms_opt(0, 0, 0)
        .and_then(|t| zone.from_local_datetime(&t).earliest())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    let a = state.store.activity(tenant.id, midnight).await?;
    let last_failure = state.store.last_webhook_failure(tenant.id).await?;
    let failing = tenant.webhook_url.as_deref().and_then(|url| state.engine.endpoint_health(tenant.id, url));
    let providers =
        crate::routes::providers::Providers::list(&state, tenant.id, PageRequest::parse(Some("200"), None)?).await?;
    let providers = serde_json::to_value(&providers.items).map_err(|_| ApiError::internal())?;
    let base = format!("/portal/t/{slug}");
    let figure = |label: &str, n: u64, href: Option<String>| {
        html! {
            div.figure {
                dt { (label) }
                dd { @if let Some(h) = href { a href=(h) { (n) } } @else { (n) } }
            }
        }
    };
    Ok(html(layout::page(
        &format!("{} — dashboard", tenant.name),
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "" }),
        html! {
            @if tenant.status == switchboard_store::tenants::TenantStatus::Suspended {
                p.error role="alert" { "This tenant is suspended: it may read, but not send or change anything." }
            }
            section aria-labelledby="today" {
                h2 #today { "Today (since midnight, " (tenant.timezone) ")" }
                dl.figures {
                    (figure("Texts in", a.inbound, Some(format!("{base}/messages?direction=inbound"))))
                    (figure("Texts out", a.outbound, Some(format!("{base}/messages?direction=outbound"))))
                    (figure("Failed", a.failed, Some(format!("{base}/messages?status=failed"))))
                    (figure("Work waiting", a.queued, Some(format!("{base}/deliveries?state=retrying"))))
                    (figure("Deliveries given up", a.dead, Some(format!("{base}/deliveries?state=dead"))))
                }
            }
            section aria-labelledby="health" {
                h2 #health { "Health" }
                h3 { "Providers" }
                @if providers.as_array().is_none_or(Vec::is_empty) {
                    p { "No provider yet: " a href={ (base) "/providers" } { "connect a Flowroute account" } "." }
                } @else {
                    ul {
                        @for p in providers.as_array().into_iter().flatten() {
                            li { a href={ (base) "/providers/" (text(&p["id"])) } { (text(&p["name"])) } ": " (super::screens::connection(p, &tenant.timezone)) }
                        }
                    }
                }
                h3 { "PBX webhook" }
                @match &tenant.webhook_url {
                    Some(url) => {
                        p { "Events are delivered to " code { (url) } "." }
                        (endpoint_health(failing.as_ref(), last_failure.as_ref(), &tenant.timezone, &base))
                    }
                    None => p { "No webhook: texts reach the PBX only through the API and its live stream." },
                }
            }
        },
    )))
}

/// How the PBX endpoint stands, in words: failing now (and whether deliveries wait for it), or
/// answering, with its last failure.
fn endpoint_health(
    failing: Option<&switchboard_engine::breaker::Failing>,
    last: Option<&switchboard_store::deliveries::FailedAttempt>,
    zone: &str,
    base: &str,
) -> Markup {
    html! {
        @match failing {
            Some(f) => {
                p.error role="status" {
                    strong { "Failing: " }
                    (f.failures) " failed deliveries in a row"
                    @if let Some(since) = &f.since { " since " (when(since, zone)) }
                    "."
                    @if let Some(until) = &f.open_until {
                        " Deliveries wait for it; the next one tries at " (when(until, zone)) "."
                    }
                }
            }
            None => p { strong { "Answering." } " Its last delivery from this instance succeeded, or none was due." },
        }
        @if let Some(a) = last {
            p {
                "Last failure: " (when(&a.at, zone)) ", it " (super::deliveries::answer(a)) " (" (a.error) "). "
                a href={ (base) "/deliveries" } { "See the deliveries that failed" }
            }
        }
    }
}

/// Tries a provider's keys now (a button on its page; htmx swaps in the answer).
async fn check_provider(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let id = path_id(req.match_info().get("id").unwrap_or_default())?;
    crate::routes::providers::check_provider(&state, scope.tenant.id, id).await?;
    Ok(see_other(&format!("/portal/t/{slug}/providers/{id}?done=checked")))
}
