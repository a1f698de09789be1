//! The portal's own pages: signing in and out, where a person lands, a tenant's dashboard, its
//! message history, a provider's connection check, and the operator's list of tenants.

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;
use switchboard_core::Role;
use switchboard_store::PageRequest;
use switchboard_store::messages::MessageFilter;

use super::PortalError;
use super::form::text;
use super::layout::{self, Frame};
use super::session::{FormData, Submission, Visitor, check_origin};
use crate::AppState;
use crate::api::messages::Message;
use crate::error::ApiError;
use crate::routes::auth::{cleared_cookie, signed_in_cookie, start_session};
use crate::routes::path_id;
use crate::routes::resource::Resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .service(web::resource("/sign-in").route(web::get().to(sign_in_page)).route(web::post().to(sign_in)))
        .route("/sign-out", web::post().to(sign_out))
        .route("/tenants", web::get().to(tenants))
        .route("/t/{tenant}/", web::get().to(dashboard))
        .route("/t/{tenant}", web::get().to(dashboard_slash))
        .route("/t/{tenant}/messages", web::get().to(messages))
        .route("/t/{tenant}/messages/{id}", web::get().to(message))
        .route("/t/{tenant}/providers/{id}/check", web::post().to(check_provider));
}

fn html(markup: Markup) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(markup.into_string())
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

/// A time as the portal shows it.
pub fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time the API wrote (RFC 3339) as the portal shows it; text that is not one, as it is.
pub fn when_text(at: &str) -> String {
    DateTime::parse_from_rfc3339(at).map_or_else(|_| at.to_owned(), |t| when(&t.with_timezone(&Utc)))
}

/// Where a person lands: an operator on the tenants, a tenant admin on their dashboard.
async fn home(visitor: Visitor) -> Result<HttpResponse, PortalError> {
    match (&visitor.identity.role, &visitor.identity.tenant) {
        (Role::System, _) => Ok(see_other("/portal/tenants")),
        (Role::TenantAdmin, Some((_, slug))) => Ok(see_other(&format!("/portal/t/{slug}/"))),
        _ => Ok(html(layout::page(
            "Your texts",
            Some(Frame { visitor: &visitor, tenant: None, current: "" }),
            html! {
                p { "You are signed in as an extension user. Your texts reach you through your PBX, and through the API's "
                    code { "/api/v1/conversations" } "; the portal's screens are for tenant admins and operators." }
            },
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    next: Option<String>,
}

/// Where to go after signing in: a portal page, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/portal/") && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/portal/".to_owned(),
    }
}

fn sign_in_form(next: &str, email: &str, error: Option<&str>, ask_code: bool) -> Markup {
    layout::page(
        "Sign in",
        None,
        html! {
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
    html(sign_in_form(&safe_next(q.next.as_deref()), "", None, false))
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
                .body(sign_in_form(&next, email, Some(e.detail()), ask_code).into_string()))
        }
        Err(e) => Err(e.into()),
    }
}

async fn sign_out(state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    state.store.end_session(sent.visitor.identity.session_id).await?;
    let mut res = see_other("/portal/sign-in");
    let cleared: Cookie<'static> = cleared_cookie(&state);
    res.add_cookie(&cleared).map_err(|_| ApiError::internal())?;
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
}

/// The operator's tenants.
async fn tenants(
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<CursorQuery>,
) -> Result<HttpResponse, PortalError> {
    if !visitor.is_operator() {
        return Err(ApiError::not_found().into());
    }
    let page = state.store.list_tenants(PageRequest::parse(None, q.cursor.as_deref())?).await?;
    Ok(html(layout::page(
        "Tenants",
        Some(Frame { visitor: &visitor, tenant: None, current: "tenants" }),
        html! {
            @if page.items.is_empty() {
                p { "No tenants yet. Create one with the API (POST /api/v1/tenants)." }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { "Tenants" }
                        thead { tr { th scope="col" { "Tenant" } th scope="col" { "Slug" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                        tbody {
                            @for t in &page.items {
                                tr {
                                    th scope="row" { a href={ "/portal/t/" (t.slug) "/" } { (t.name) } }
                                    td { (t.slug) }
                                    td { (format!("{:?}", t.status).to_lowercase()) }
                                    td { (when(&t.created_at)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor { p { a href={ "/portal/tenants?cursor=" (next) } { "Next page" } } }
            }
        },
    )))
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
    let slug = req.match_info().get("tenant").unwrap_or_default().to_owned();
    let scope = visitor.scope(&state, &slug, true).await?;
    let tenant = &scope.tenant;
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_else(Utc::now);
    let a = state.store.activity(tenant.id, midnight).await?;
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
                h2 #today { "Today (since midnight UTC)" }
                dl.figures {
                    (figure("Texts in", a.inbound, Some(format!("{base}/messages?direction=inbound"))))
                    (figure("Texts out", a.outbound, Some(format!("{base}/messages?direction=outbound"))))
                    (figure("Failed", a.failed, Some(format!("{base}/messages?status=failed"))))
                    (figure("Deliveries waiting", a.queued, None))
                    (figure("Deliveries given up", a.dead, None))
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
                            li { a href={ (base) "/providers/" (text(&p["id"])) } { (text(&p["name"])) } ": " (super::screens::connection(p)) }
                        }
                    }
                }
                h3 { "PBX webhook" }
                @match &tenant.webhook_url {
                    Some(url) => p { "Events are delivered to " code { (url) } "." },
                    None => p { "No webhook: texts reach the PBX only through the API and its live stream." },
                }
            }
        },
    )))
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    number: Option<String>,
    remote: Option<String>,
    direction: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

fn blank_none(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The message history, newest first, filtered.
async fn messages(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, PortalError> {
    let slug = req.match_info().get("tenant").unwrap_or_default().to_owned();
    let scope = visitor.scope(&state, &slug, true).await?;
    let tenant = &scope.tenant;
    let filter = MessageFilter {
        number: blank_none(&q.number),
        remote: blank_none(&q.remote),
        direction: blank_none(&q.direction),
        status: blank_none(&q.status),
    };
    let listed =
        state.store.list_messages(tenant.id, filter.clone(), PageRequest::parse(None, q.cursor.as_deref())?).await;
    let (items, next, error) = match listed {
        Ok(page) => (page.items.into_iter().map(Message::from).collect::<Vec<_>>(), page.next_cursor, None),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status() != StatusCode::UNPROCESSABLE_ENTITY {
                return Err(e.into());
            }
            (Vec::new(), None, Some(e))
        }
    };
    let base = format!("/portal/t/{slug}/messages");
    let selected = |v: &Option<String>, want: &str| v.as_deref() == Some(want);
    let field_error = |name: &str| {
        error.as_ref().and_then(|e| e.field_errors().iter().find(|f| f.field == name).map(|f| f.message.clone()))
    };
    let next_href = next.map(|c| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("number", &filter.number),
            ("remote", &filter.remote),
            ("direction", &filter.direction),
            ("status", &filter.status),
        ] {
            if let Some(v) = v {
                query.append_pair(k, v);
            }
        }
        query.append_pair("cursor", &c);
        format!("{base}?{}", query.finish())
    });
    Ok(html(layout::page(
        "Messages",
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "messages" }),
        html! {
            form.filters method="get" action=(base) role="search" aria-label="Filter the messages" {
                @for (name, label, value) in [("number", "Our number", &filter.number), ("remote", "Other party", &filter.remote)] {
                    div.field {
                        label for=(name) { (label) }
                        input type="text" id=(name) name=(name) value=(value.clone().unwrap_or_default()) placeholder="+12025550100"
                              aria-invalid=[field_error(name).map(|_| "true")] aria-describedby=[field_error(name).map(|_| format!("{name}-error"))];
                        @if let Some(m) = field_error(name) { p.field-error id={ (name) "-error" } { (m) } }
                    }
                }
                div.field {
                    label for="direction" { "Direction" }
                    select #direction name="direction" {
                        option value="" { "Both" }
                        option value="inbound" selected[selected(&filter.direction, "inbound")] { "In" }
                        option value="outbound" selected[selected(&filter.direction, "outbound")] { "Out" }
                    }
                }
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" { "Any" }
                        @for s in ["received", "queued", "sending", "sent", "delivered", "failed"] {
                            option value=(s) selected[selected(&filter.status, s)] { (s) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if items.is_empty() {
                p { "No messages match." }
            } @else {
                div.table-wrap {
                    table.messages {
                        caption.visually-hidden { "Messages, newest first" }
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Direction" } th scope="col" { "Our number" }
                            th scope="col" { "Other party" } th scope="col" { "Text" } th scope="col" { "Status" } th scope="col" { "Routed to" }
                        } }
                        tbody {
                            @for m in &items {
                                tr {
                                    th scope="row" { a href={ (base) "/" (m.id) } { (when(&m.created_at)) } }
                                    td { (if m.direction == "inbound" { "in" } else { "out" }) }
                                    td { (m.number) }
                                    td { (m.remote) }
                                    td.body { (excerpt(m.body.as_deref().unwrap_or_default())) }
                                    td { span.status data-status=(m.status) { (m.status) } }
                                    td { (route(m)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(h) = next_href { p { a href=(h) { "Older messages" } } }
            }
        },
    )))
}

fn excerpt(body: &str) -> String {
    const MAX: usize = 80;
    if body.chars().count() <= MAX {
        body.to_owned()
    } else {
        format!("{}…", body.chars().take(MAX).collect::<String>())
    }
}

/// Where a text went (inbound: the extensions) or who sent it (outbound: an extension, or
/// Switchboard itself, for an auto-reply or the API).
fn route(m: &Message) -> Markup {
    let routed = text(&m.extensions);
    match (m.direction.as_str(), &m.sender_extension) {
        ("outbound", Some(s)) => html! { "sent by " (s) },
        ("outbound", None) => html! { "sent by Switchboard" },
        _ if routed.is_empty() => layout::none(),
        _ => html! { (routed) },
    }
}

/// One message: what it said, where it went, and how it stands.
async fn message(req: HttpRequest, visitor: Visitor, state: web::Data<AppState>) -> Result<HttpResponse, PortalError> {
    let slug = req.match_info().get("tenant").unwrap_or_default().to_owned();
    let scope = visitor.scope(&state, &slug, true).await?;
    let tenant = &scope.tenant;
    let id = path_id(req.match_info().get("id").unwrap_or_default())?;
    let m = Message::from(state.store.get_message(tenant.id, id).await?);
    let rows: Vec<(&str, Markup)> = vec![
        ("Direction", html! { (m.direction) }),
        ("Our number", html! { (m.number) }),
        ("Other party", html! { (m.remote) }),
        ("Text", html! { (m.body.clone().unwrap_or_default()) }),
        ("Segments", html! { (m.segments) " (" (if m.encoding == 8 { "UCS-2" } else { "GSM-7" }) ")" }),
        ("Status", html! { span.status data-status=(m.status) { (m.status) } }),
        ("Routed to", route(&m)),
        ("Keyword", m.keyword.clone().map_or_else(layout::none, |k| html! { (k) })),
        ("Flowroute's id", m.provider_message_id.clone().map_or_else(layout::none, |k| html! { code { (k) } })),
        (
            "Error",
            match (&m.error_code, &m.error_message) {
                (None, None) => layout::none(),
                (code, message) => {
                    html! { (code.map(|c| c.to_string()).unwrap_or_default()) " " (message.clone().unwrap_or_default()) }
                }
            },
        ),
        ("Received or queued", html! { (when(&m.created_at)) }),
        ("Last change", html! { (when(&m.updated_at)) }),
    ];
    Ok(html(layout::page(
        &format!("Message {} {}", if m.direction == "inbound" { "from" } else { "to" }, m.remote),
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "messages" }),
        html! {
            p { a href={ "/portal/t/" (slug) "/messages" } { "All messages" } }
            dl.details {
                @for (label, value) in rows { dt { (label) } dd { (value) } }
            }
        },
    )))
}

/// Tries a provider's keys now (a button on its page; htmx swaps in the answer).
async fn check_provider(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let slug = req.match_info().get("tenant").unwrap_or_default().to_owned();
    let scope = sent.visitor.scope(&state, &slug, false).await?;
    let id = path_id(req.match_info().get("id").unwrap_or_default())?;
    crate::routes::providers::check_provider(&state, scope.tenant.id, id).await?;
    Ok(see_other(&format!("/portal/t/{slug}/providers/{id}?done=checked")))
}
