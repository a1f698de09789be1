//! A tenant's records: the message history and a message, the opt-outs, the audit log.

use std::str::FromStr;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, TimeZone, Utc};
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
        .route("/t/{tenant}/messages.csv", web::get().to(export))
        .route("/t/{tenant}/messages/{id}", web::get().to(message))
        .route("/t/{tenant}/opt-outs", web::get().to(opt_outs))
        .route("/t/{tenant}/opt-outs/{remote}/lift", web::post().to(lift_opt_out))
        .route("/t/{tenant}/audit", web::get().to(audit))
        .route("/audit", web::get().to(audit));
}

#[derive(Debug, Default, Deserialize)]
struct HistoryQuery {
    number: Option<String>,
    remote: Option<String>,
    direction: Option<String>,
    status: Option<String>,
    /// The first day, `YYYY-MM-DD`, in the tenant's time zone.
    from: Option<String>,
    /// The last day (included), `YYYY-MM-DD`, in the tenant's time zone.
    to: Option<String>,
    cursor: Option<String>,
}

fn blank_none(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl HistoryQuery {
    /// The store's filter; a day that is not one is refused by name.
    fn filter(&self, zone: &str) -> Result<MessageFilter, ApiError> {
        let tz = chrono_tz::Tz::from_str(zone).unwrap_or(chrono_tz::UTC);
        let mut errors = switchboard_core::FieldErrors::new();
        // Midnight at the start of a day in the tenant's zone (the day after, for `to`).
        let mut day = |name: &str, value: &Option<String>, after: bool| {
            let v = blank_none(value)?;
            let parsed = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .ok()
                .map(|d| if after { d.succ_opt().unwrap_or(d) } else { d });
            let start = parsed
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|t| tz.from_local_datetime(&t).earliest())
                .map(|t| t.with_timezone(&Utc));
            if start.is_none() {
                errors.add(name, "must be a day, YYYY-MM-DD");
            }
            start
        };
        let since = day("from", &self.from, false);
        let until = day("to", &self.to, true);
        errors.finish().map_err(ApiError::invalid)?;
        Ok(MessageFilter {
            number: blank_none(&self.number),
            remote: blank_none(&self.remote),
            direction: blank_none(&self.direction),
            status: blank_none(&self.status),
            since,
            until,
        })
    }

    /// The filters as a query string (for the next page and the export).
    fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("number", &self.number),
            ("remote", &self.remote),
            ("direction", &self.direction),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = blank_none(v) {
                query.append_pair(k, &v);
            }
        }
        query.finish()
    }
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
    let listed = match q.filter(&tenant.timezone) {
        Ok(filter) => state
            .store
            .list_messages(tenant.id, filter, PageRequest::parse(None, q.cursor.as_deref())?)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let (items, next, error) = match listed {
        Ok(page) => (page.items.into_iter().map(Message::from).collect::<Vec<_>>(), page.next_cursor, None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (Vec::new(), None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let base = format!("/portal/t/{slug}/messages");
    let selected = |v: &Option<String>, want: &str| v.as_deref() == Some(want);
    let field_error = |name: &str| {
        error.as_ref().and_then(|e| e.field_errors().iter().find(|f| f.field == name).map(|f| f.message.clone()))
    };
    let filters = q.query();
    let and = if filters.is_empty() { "" } else { "&" };
    let next_href = next.map(|c| {
        format!(
            "{base}?{filters}{and}cursor={}",
            url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
        )
    });
    let export = format!("/portal/t/{slug}/messages.csv{}{filters}", if filters.is_empty() { "" } else { "?" });
    let text_field = |name: &'static str, label: &str, kind: &str, value: &Option<String>, hint: &str| {
        let error = field_error(name);
        html! {
            div.field {
                label for=(name) { (label) }
                input type=(kind) id=(name) name=(name) value=(value.clone().unwrap_or_default()) placeholder=(hint)
                      aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby=[error.as_ref().map(|_| format!("{name}-error"))];
                @if let Some(m) = error { p.field-error id={ (name) "-error" } { (m) } }
            }
        }
    };
    let page = layout::page(
        "Messages",
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "messages" }),
        html! {
            form.filters method="get" action=(base) role="search" aria-label="Filter the messages" {
                (text_field("number", "Our number", "text", &q.number, "+12025550100"))
                (text_field("remote", "Other party", "text", &q.remote, "+12065550123"))
                div.field {
                    label for="direction" { "Direction" }
                    select #direction name="direction" {
                        option value="" { "Both" }
                        option value="inbound" selected[selected(&q.direction, "inbound")] { "In" }
                        option value="outbound" selected[selected(&q.direction, "outbound")] { "Out" }
                    }
                }
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        option value="" { "Any" }
                        @for s in ["received", "queued", "sending", "sent", "delivered", "failed"] {
                            option value=(s) selected[selected(&q.status, s)] { (s) }
                        }
                    }
                }
                (text_field("from", "From the day", "date", &q.from, ""))
                (text_field("to", "To the day", "date", &q.to, ""))
                button type="submit" { "Filter" }
            }
            p { a href=(export) download { "Download these messages as CSV" } " (the newest " (EXPORT_MAX) " at most; days in " (tenant.timezone) ")" }
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
    );
    match error {
        Some(e) => Ok(super::html_status(e.status(), page)),
        None => Ok(html(page)),
    }
}

/// The most messages one export holds.
const EXPORT_MAX: usize = 50_000;

/// A CSV cell that a spreadsheet will not run: text that starts like a formula gets a `'` first
/// (numbers such as `+12025550100` are left alone).
pub(super) fn cell(value: &str) -> std::borrow::Cow<'_, str> {
    let formula = match value.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !value[1..].bytes().all(|b| b.is_ascii_digit()) || value.len() == 1,
        _ => false,
    };
    if formula { format!("'{value}").into() } else { value.into() }
}

/// The filtered history as CSV, newest first, times in the tenant's zone.
async fn export(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let tenant = &scope.tenant;
    let filter = q.filter(&tenant.timezone)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "time",
        "direction",
        "number",
        "remote",
        "status",
        "body",
        "segments",
        "routed_to",
        "sent_by",
        "keyword",
        "flowroute_id",
        "error_code",
        "error_message",
    ];
    out.write_record(header).map_err(|_| ApiError::internal())?;
    let (mut cursor, mut written) = (None::<String>, 0usize);
    loop {
        let page = state
            .store
            .list_messages(tenant.id, filter.clone(), PageRequest::parse(Some("200"), cursor.as_deref())?)
            .await?;
        for m in page.items.into_iter().map(Message::from) {
            let row = [
                m.id.to_string(),
                when(&m.created_at, &tenant.timezone),
                m.direction.clone(),
                m.number.clone(),
                m.remote.clone(),
                m.status.clone(),
                m.body.clone().unwrap_or_default(),
                m.segments.to_string(),
                text(&m.extensions),
                m.sender_extension.clone().unwrap_or_default(),
                m.keyword.clone().unwrap_or_default(),
                m.provider_message_id.clone().unwrap_or_default(),
                m.error_code.map(|c| c.to_string()).unwrap_or_default(),
                m.error_message.clone().unwrap_or_default(),
            ];
            out.write_record(row.iter().map(|v| cell(v).into_owned())).map_err(|_| ApiError::internal())?;
            written += 1;
        }
        cursor = page.next_cursor;
        if cursor.is_none() || written >= EXPORT_MAX {
            break;
        }
    }
    csv_download(&format!("messages-{}-{}.csv", tenant.slug, Utc::now().format("%Y%m%d-%H%M%S")), out)
}

/// A CSV file to save, named `name`.
pub(super) fn csv_download(name: &str, out: csv::Writer<Vec<u8>>) -> Result<HttpResponse, PortalError> {
    let body = out.into_inner().map_err(|_| ApiError::internal())?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((actix_web::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .body(body))
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
    let timeline = state.store.message_timeline(tenant.id, id).await?;
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
            (super::deliveries::timeline(&timeline, &tenant.timezone, &slug))
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

/// The audit log: the tenant's (for its admins and operators), or everything (operators).
async fn audit(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<CursorQuery>,
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

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn a_cell_that_starts_like_a_formula_is_defused_and_a_number_is_not() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-1+2"), "'-1+2");
        assert_eq!(cell("+"), "'+");
        assert_eq!(cell("+12025550100"), "+12025550100");
        assert_eq!(cell("Is my crown ready?"), "Is my crown ready?");
        assert_eq!(cell(""), "");
    }
}
