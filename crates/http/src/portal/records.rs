//! A tenant's records: the message history and a message, the opt-outs, the audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_store::PageRequest;
use switchboard_store::messages::MessageFilter;

use super::form::text;
use super::layout::{self, Frame, when};
use super::session::{Submission, Visitor};
use super::{PortalError, html};
use crate::AppState;
use crate::api::messages::Message;
use crate::error::ApiError;
use crate::routes::path_id;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{tenant}/messages", web::get().to(messages))
        .route("/t/{tenant}/messages/{id}", web::get().to(message))
        .route("/t/{tenant}/opt-outs", web::get().to(opt_outs))
        .route("/t/{tenant}/opt-outs/{remote}/lift", web::post().to(lift_opt_out))
        .route("/t/{tenant}/audit", web::get().to(audit))
        .route("/audit", web::get().to(audit));
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
    let scope = visitor.tenant(&state, &req, true).await?;
    let slug = scope.tenant.slug.clone();
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
                                    th scope="row" { a href={ (base) "/" (m.id) } { (when(&m.created_at, &tenant.timezone)) } }
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
    let scope = visitor.tenant(&state, &req, true).await?;
    let slug = scope.tenant.slug.clone();
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
        ("Received or queued", html! { (when(&m.created_at, &tenant.timezone)) }),
        ("Last change", html! { (when(&m.updated_at, &tenant.timezone)) }),
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

#[derive(Debug, Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
    done: Option<String>,
}

/// The tenant's opt-outs, each with a way to lift it (giving a reason, kept in the audit log).
async fn opt_outs(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<CursorQuery>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let slug = scope.tenant.slug.clone();
    let tenant = &scope.tenant;
    let page = state.store.list_opt_outs(tenant.id, PageRequest::parse(None, q.cursor.as_deref())?).await?;
    let base = format!("/portal/t/{slug}/opt-outs");
    Ok(html(layout::page(
        "Opt-outs",
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "opt-outs" }),
        html! {
            @if q.done.as_deref() == Some("lifted") { (layout::notice("The opt-out was lifted: the number may be texted again.")) }
            p.about { "People who texted STOP (or STOPALL) are not texted again until they text START, or an admin lifts the opt-out here with a reason (for example, they asked in writing to be texted again)." }
            @if page.items.is_empty() {
                p { "No opt-outs." }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { "Opt-outs" }
                        thead { tr { th scope="col" { "Number" } th scope="col" { "Of" } th scope="col" { "Keyword" } th scope="col" { "Since" } th scope="col" { "Lift it" } } }
                        tbody {
                            @for o in &page.items {
                                @let id = format!("reason-{}", o.id);
                                tr {
                                    th scope="row" { (o.remote) }
                                    td { (if o.scope == "all" { "every number".to_owned() } else { o.scope.clone() }) }
                                    td { (o.keyword) }
                                    td { (when(&o.created_at, &tenant.timezone)) }
                                    td {
                                        form.inline method="post" action={ (base) "/" (o.remote) "/lift" } {
                                            (layout::csrf(&visitor))
                                            label for=(id) { "Reason" }
                                            input type="text" id=(id) name="reason" required minlength="3";
                                            button type="submit" { "Lift" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor { p { a href={ (base) "?cursor=" (next) } { "Next page" } } }
            }
        },
    )))
}

/// Lifts every opt-out of a number in the tenant; the reason goes to the audit log.
async fn lift_opt_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let remote = req.match_info().get("remote").unwrap_or_default().to_owned();
    let reason = sent.form.get("reason").unwrap_or_default();
    if reason.chars().count() < 3 {
        return Err(ApiError::invalid(vec![switchboard_core::FieldError {
            field: "reason".into(),
            message: "say why the opt-out is lifted (3 characters or more); it is kept in the audit log".into(),
        }])
        .into());
    }
    state.store.delete_opt_outs(scope.tenant.id, &remote).await?;
    let changes = serde_json::json!({"remote": remote, "reason": reason});
    crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 204, changes).await;
    Ok(super::see_other(&format!("/portal/t/{slug}/opt-outs?done=lifted")))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    cursor: Option<String>,
}

/// The audit log: the tenant's (for its admins and operators), or everything (operators).
async fn audit(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, PortalError> {
    let slug = req.match_info().get("tenant").map(str::to_owned);
    let scope = match &slug {
        Some(slug) => Some(visitor.scope(&state, slug, true).await?),
        None if visitor.is_operator() => None,
        None => return Err(ApiError::not_found().into()),
    };
    let filter =
        switchboard_store::audit::AuditFilter { actor: None, tenant: scope.as_ref().map(|s| s.tenant.id), since: None };
    let page = state.store.list_audit(filter, PageRequest::parse(None, q.cursor.as_deref())?).await?;
    let entries: Vec<crate::api::audit::AuditEntry> = page.items.into_iter().map(Into::into).collect();
    let base = req.path().to_owned();
    let tenant = scope.as_ref().map(|s| (s.tenant.slug.as_str(), s.tenant.name.as_str()));
    let zone = scope.as_ref().map_or("UTC", |s| s.tenant.timezone.as_str());
    Ok(html(layout::page(
        "Audit log",
        Some(Frame { visitor: &visitor, tenant, current: "audit" }),
        html! {
            p.about { "Every change made with a credential, newest first: who, from where, what, and the answer. Secrets are never recorded." }
            @if entries.is_empty() {
                p { "Nothing recorded yet." }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { "Audit log" }
                        thead { tr {
                            th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "From" }
                            th scope="col" { "What" } th scope="col" { "Answer" } th scope="col" { "Changes" }
                        } }
                        tbody {
                            @for e in &entries {
                                tr {
                                    th scope="row" { (when(&e.at, zone)) }
                                    td { (e.actor) @if let Some(c) = &e.credential { br; span.muted { (c) } } }
                                    td { (e.address.clone().unwrap_or_default()) }
                                    td { code { (e.method) " " (e.path) } }
                                    td { (e.status) }
                                    td.body { @if let Some(c) = &e.changes { code { (c.to_string()) } } @else { (layout::none()) } }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor { p { a href={ (base) "?cursor=" (next) } { "Older entries" } } }
            }
        },
    )))
}
