//! PBX deliveries that failed — retrying or given up — with every attempt's answer, and playing
//! the dead ones again; and a text's timeline (its events and the work done for it), shown on the
//! text's page.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_core::JobKind;
use switchboard_store::PageRequest;
use switchboard_store::deliveries::{Delivery, DeliveryState, FailedAttempt, Timeline};

use super::layout::{self, Frame, when};
use super::session::{Submission, Visitor};
use super::{PortalError, html};
use crate::AppState;
use crate::routes::path_id;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{tenant}/deliveries", web::get().to(list))
        .route("/t/{tenant}/deliveries/replay-dead", web::post().to(replay_dead))
        .route("/t/{tenant}/deliveries/{id}/replay", web::post().to(replay));
}

/// An event's type in words.
fn event_words(event_type: &str) -> &str {
    match event_type {
        "message.received" => "Text received",
        "message.status" => "Status changed",
        "delivery.dead" => "Work given up",
        "message.delivery" => "Delivered to a phone (or tried)",
        _ => event_type,
    }
}

/// What a job does, in words.
fn job_words(d: &Delivery) -> String {
    match d.kind {
        JobKind::WebhookDelivery => {
            format!("Post to the PBX webhook ({})", d.event_type.as_deref().map_or("an event", event_words))
        }
        JobKind::ProviderSend => "Send through Flowroute".to_owned(),
        JobKind::MediaFetch => "Fetch an attachment from Flowroute".to_owned(),
        JobKind::SipDelivery => "Send to a phone by SIP MESSAGE".to_owned(),
        JobKind::EmailFallback => "Email a text nobody read".to_owned(),
    }
}

/// Where a job stands, in words (never colour alone).
fn state_words(d: &Delivery, zone: &str) -> String {
    match d.state.as_str() {
        "done" => format!("done at {} (attempt {})", when(&d.updated_at, zone), d.attempts),
        "dead" => format!("given up at {} after {} attempts", when(&d.updated_at, zone), d.attempts),
        "replayed" => format!("given up, then played again at {}", when(&d.updated_at, zone)),
        "running" => "being tried now".to_owned(),
        _ => match d.next_attempt_at {
            Some(at) if d.attempts > 0 => format!("failed {} times; next try at {}", d.attempts, when(&at, zone)),
            Some(at) => format!("waiting, first try at {}", when(&at, zone)),
            None => d.state.clone(),
        },
    }
}

/// What the other side answered an attempt, in words.
pub(super) fn answer(a: &FailedAttempt) -> String {
    match a.status_code {
        Some(code) => format!("answered {code}"),
        None => "did not answer".to_owned(),
    }
}

/// A job's failed attempts as a list.
fn attempts(failures: &[FailedAttempt], zone: &str) -> Markup {
    html! {
        @if failures.is_empty() {
            p.muted { "No failed attempts." }
        } @else {
            ol.attempts {
                @for a in failures {
                    li {
                        "Attempt " (a.attempt) ", " (when(&a.at, zone)) ": " strong { (answer(a)) } " — " (a.error)
                        @if a.last { " (the last; given up)" }
                    }
                }
            }
        }
    }
}

/// A text's timeline, for its page.
pub fn timeline(t: &Timeline, zone: &str, slug: &str) -> Markup {
    html! {
        h2 { "Timeline" }
        @if t.events.is_empty() {
            p.muted { "No events recorded for this text." }
        } @else {
            div.table-wrap {
                table {
                    caption.visually-hidden { "Events of this text" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Detail" } } }
                    tbody {
                        @for e in &t.events {
                            tr {
                                td { (when(&e.created_at, zone)) }
                                th scope="row" { (event_words(&e.event_type)) }
                                td { (event_detail(&e.payload)) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Work done for it" }
        @if t.jobs.is_empty() {
            p.muted { "None: the tenant has no PBX webhook, and nothing was sent or fetched." }
        } @else {
            ul.jobs {
                @for d in &t.jobs {
                    li {
                        strong { (job_words(d)) } ": " (state_words(d, zone))
                        @if d.state == "dead" && d.kind == JobKind::WebhookDelivery {
                            " " a href={ "/portal/t/" (slug) "/deliveries?state=dead" } { "Play it again from PBX deliveries" }
                        }
                        (attempts(&d.failures, zone))
                    }
                }
            }
        }
    }
}

/// The detail of an event worth a line.
fn event_detail(payload: &serde_json::Value) -> String {
    let data = &payload["data"];
    match payload["type"].as_str() {
        Some("message.received") => {
            let to: Vec<&str> =
                data["extensions"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str).collect();
            if to.is_empty() { "routed to no extension".to_owned() } else { format!("routed to {}", to.join(", ")) }
        }
        Some("message.status") => {
            let status = data["status"].as_str().unwrap_or_default();
            match data["error"]["error_message"].as_str() {
                Some(why) => format!("{status}: {why}"),
                None => status.to_owned(),
            }
        }
        Some("delivery.dead") => data["last_error"].as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
    n: Option<usize>,
}

/// The tenant's PBX deliveries that are dead (the default) or retrying.
async fn list(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let tenant = &scope.tenant;
    let slug = tenant.slug.clone();
    let which = DeliveryState::parse(q.state.as_deref().unwrap_or("dead"))?;
    let page =
        state.store.list_webhook_deliveries(tenant.id, which, PageRequest::parse(None, q.cursor.as_deref())?).await?;
    let base = format!("/portal/t/{slug}/deliveries");
    let zone = tenant.timezone.clone();
    let (dead, name) = match which {
        DeliveryState::Dead => (true, "dead"),
        DeliveryState::Retrying => (false, "retrying"),
    };
    let notice = match (q.done.as_deref(), q.n) {
        (Some("replayed"), _) => {
            Some("Played again: it is queued behind the conversation's current deliveries.".to_owned())
        }
        (Some("replayed-all"), Some(n)) => Some(format!("{n} deliveries played again.")),
        _ => None,
    };
    Ok(html(layout::page(
        "PBX deliveries",
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "deliveries" }),
        html! {
            @if let Some(n) = &notice { (layout::notice(n)) }
            p.about { "Each event is posted to the PBX webhook until it answers 2xx, on a schedule that waits longer after each failure. \
                       Here are the posts that failed: those still being retried, and those given up after the last attempt, \
                       which can be played again once the PBX is fixed. The PBX sees the same webhook-id, so it can tell a text it already has." }
            nav.tabs aria-label="Which deliveries" {
                a href={ (base) "?state=dead" } aria-current=[dead.then_some("page")] { "Given up" }
                a href={ (base) "?state=retrying" } aria-current=[(!dead).then_some("page")] { "Being retried" }
            }
            @if dead && !page.items.is_empty() {
                form.inline method="post" action={ (base) "/replay-dead" } {
                    (layout::csrf(&visitor))
                    button type="submit" { "Play every given-up delivery again" }
                }
            }
            @if page.items.is_empty() {
                p { @if dead { "No delivery was given up." } @else { "No delivery is being retried." } }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { "Deliveries " (name) }
                        thead { tr {
                            th scope="col" { "Queued" } th scope="col" { "Event" } th scope="col" { "Text" }
                            th scope="col" { "Where it stands" } th scope="col" { "Attempts" }
                            @if dead { th scope="col" { "Play again" } }
                        } }
                        tbody {
                            @for d in &page.items {
                                tr {
                                    td { (when(&d.created_at, &zone)) }
                                    th scope="row" { (d.event_type.as_deref().map_or("an event", event_words)) }
                                    td {
                                        @if let Some(m) = d.message_id {
                                            a href={ "/portal/t/" (slug) "/messages/" (m) } { "Open the text" }
                                        } @else { (layout::none()) }
                                    }
                                    td { (state_words(d, &zone)) }
                                    td {
                                        details {
                                            summary { (d.failures.len()) " failed" }
                                            (attempts(&d.failures, &zone))
                                        }
                                    }
                                    @if dead {
                                        td {
                                            form.inline method="post" action={ (base) "/" (d.id) "/replay" } {
                                                (layout::csrf(&visitor))
                                                button type="submit" aria-label={ "Play again the delivery queued " (when(&d.created_at, &zone)) } { "Play again" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor { p { a href={ (base) "?state=" (name) "&cursor=" (next) } { "Next page" } } }
            }
        },
    )))
}

/// Plays one dead delivery again.
async fn replay(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let id = path_id(req.match_info().get("id").unwrap_or_default())?;
    let d = state.store.replay_webhook_delivery(scope.tenant.id, id).await?;
    state.engine.deliveries_queued();
    let changes = serde_json::json!({"replayed": id, "as": d.id});
    crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 202, changes).await;
    Ok(super::see_other(&format!("/portal/t/{slug}/deliveries?state=dead&done=replayed")))
}

/// Plays every dead delivery again (500 at a time).
async fn replay_dead(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let n = state.store.replay_dead_webhook_deliveries(scope.tenant.id).await?;
    if n > 0 {
        state.engine.deliveries_queued();
    }
    let changes = serde_json::json!({"replayed": n});
    crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 200, changes).await;
    Ok(super::see_other(&format!("/portal/t/{slug}/deliveries?state=dead&done=replayed-all&n={n}")))
}
