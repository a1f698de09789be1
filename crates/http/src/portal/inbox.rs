//! The inbox: an extension user's conversations (a tenant admin's: the whole tenant's), a thread
//! with each outgoing text's delivery state in words and pictures as thumbnails, and a reply box —
//! or, for a remote who opted out, a note saying why there is none.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_store::inbox::{PartyName, Viewer};
use switchboard_store::messages::Message;
use switchboard_store::outbound::{SendInput, Sender};

use super::layout::{self, Frame, when};
use super::session::{Submission, Visitor};
use super::{PortalError, html, html_status, see_other};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/inbox", web::get().to(list))
        .route("/inbox/{remote}", web::get().to(thread))
        .route("/inbox/{remote}/reply", web::post().to(reply));
}

/// Texts a thread shows at once; older ones are a link away.
const THREAD_PAGE: u64 = 50;

fn sender(caller: &Caller) -> Sender {
    match &caller.ext {
        Some(ext) => Sender::Extension(ext.clone()),
        None => Sender::Admin(format!("tenant_admin:{}", caller.tenant.slug)),
    }
}

/// Who the other party is, in words: the contact (and company) where the tenant knows them.
fn who(remote: &str, name: Option<&PartyName>) -> Markup {
    match name {
        Some(PartyName { contact: Some(c), company: Some(co) }) => html! { (c) " (" (co) ") " span.muted { (remote) } },
        Some(PartyName { contact: Some(c), company: None }) => html! { (c) " " span.muted { (remote) } },
        _ => html! { (remote) },
    }
}

/// The frame: a tenant admin's with the tenant's screens, an extension user's with the inbox only.
fn frame<'a>(visitor: &'a Visitor, caller: &'a Caller) -> Frame<'a> {
    let tenant = caller.ext.is_none().then_some((caller.tenant.slug.as_str(), caller.tenant.name.as_str()));
    Frame { visitor, tenant, current: "inbox" }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    q: Option<String>,
    cursor: Option<String>,
}

/// The conversations, newest first, with unread counts and who is on the other end.
async fn list(
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PortalError> {
    let caller = visitor.caller(&state, true).await?;
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let page =
        state.store.list_conversations(caller.tenant.id, caller.viewer(), 50, q.cursor.as_deref(), search).await?;
    let remotes: Vec<String> = page.items.iter().map(|c| c.remote.clone()).collect();
    let names = state.store.party_names(caller.tenant.id, &remotes).await?;
    let zone = &caller.tenant.timezone;
    let title = match &caller.ext {
        Some(ext) => format!("Texts of extension {ext}"),
        None => format!("Texts of {}", caller.tenant.name),
    };
    Ok(html(layout::page(
        &title,
        Some(frame(&visitor, &caller)),
        html! {
            form.filters method="get" action="/portal/inbox" role="search" {
                div.field {
                    label for="q" { "Find by number, name or text" }
                    input #q type="search" name="q" value=(search.unwrap_or_default());
                }
                button type="submit" { "Find" }
                @if search.is_some() { a href="/portal/inbox" { "Show all" } }
            }
            p.visually-hidden #live-announce role="status" {}
            button.link #notify type="button" hidden { "Notify me of new texts" }
            div data-live="" {
            @if page.items.is_empty() {
                p { @if search.is_some() { "No conversation matches." } @else { "No texts yet." } }
            } @else {
                ul.conversations {
                    @for c in &page.items {
                        li.unread[c.unread > 0] data-id=(c.last_message_id.map(|m| m.to_string()).unwrap_or_default())
                            data-incoming=(if c.unread > 0 { "1" } else { "" }) data-from=(c.remote) {
                            a href={ "/portal/inbox/" (c.remote) } {
                                span.party { (who(&c.remote, names.get(&c.remote))) }
                                " "
                                span.muted { "to " (c.number) ", " (when(&c.last_message_at, zone)) }
                                @if c.unread > 0 {
                                    " " span.badge { (c.unread) " unread" }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a href={ "/portal/inbox?cursor=" (next) @if let Some(s) = search { "&q=" (url_part(s)) } } { "Older conversations" } }
                }
            }
            }
        },
    )))
}

fn url_part(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An outgoing text's state in words (never colour alone).
fn state_words(m: &Message) -> String {
    match m.status.as_str() {
        "queued" => "Queued".to_owned(),
        "sending" => "Sending".to_owned(),
        "sent" => "Sent".to_owned(),
        "delivered" => "Delivered".to_owned(),
        "failed" => match (&m.error_message, m.error_code) {
            (Some(why), Some(code)) => format!("Failed: {why} ({code})"),
            (Some(why), None) => format!("Failed: {why}"),
            (None, Some(code)) => format!("Failed (error {code})"),
            (None, None) => "Failed".to_owned(),
        },
        other => other.to_owned(),
    }
}

/// A text's pictures as thumbnails (each opening full size), other attachments as links.
fn attachments(m: &Message) -> Markup {
    let items = m.media.as_array().cloned().unwrap_or_default();
    html! {
        @if !items.is_empty() {
            div.attachments {
                @for (i, a) in items.iter().enumerate() {
                    @let id = a["id"].as_str().unwrap_or_default();
                    @let href = format!("/api/v1/media/{id}");
                    @let kind = a["mime_type"].as_str().unwrap_or_default();
                    @if kind.starts_with("image/") {
                        a href=(href) target="_blank" rel="noopener" {
                            img.thumb src=(href) alt={ "Picture " (i + 1) " from " (m.remote) } loading="lazy";
                        }
                    } @else {
                        a href=(href) { "Attachment " (i + 1) " (" (kind) ")" }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct ThreadQuery {
    before: Option<String>,
    done: Option<String>,
}

/// One conversation's texts, oldest first, the reply box under them; reading it marks it read.
async fn thread(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ThreadQuery>,
) -> Result<HttpResponse, PortalError> {
    let caller = visitor.caller(&state, true).await?;
    let remote = req.match_info().get("remote").unwrap_or_default().to_owned();
    let notice = (q.done.as_deref() == Some("sent")).then_some("Your reply is queued; its state shows below.");
    let page = render_thread(&state, &visitor, &caller, &remote, q.before.as_deref(), None, notice).await?;
    // Read once shown; a failure to mark it costs an unread count, not the page.
    if let Err(e) = state.store.mark_read(caller.tenant.id, caller.viewer(), &remote).await {
        tracing::warn!(error = %e, "a conversation could not be marked read");
    }
    Ok(html(page))
}

/// A reply box's refusal: the text typed, and why.
struct Refused<'a> {
    body: &'a str,
    from: &'a str,
    error: String,
}

async fn render_thread(
    state: &AppState,
    visitor: &Visitor,
    caller: &Caller,
    remote: &str,
    before: Option<&str>,
    refused: Option<Refused<'_>>,
    notice: Option<&str>,
) -> Result<Markup, PortalError> {
    let cursor = match before.filter(|b| !b.is_empty()) {
        Some(b) => Some(uuid::Uuid::try_parse(b).map_err(|_| ApiError::not_found())?),
        None => None,
    };
    let page =
        state.store.conversation_messages(caller.tenant.id, caller.viewer(), remote, THREAD_PAGE, cursor).await?;
    let names = state.store.party_names(caller.tenant.id, &[remote.to_owned()]).await?;
    let zone = &caller.tenant.timezone;
    // The number the conversation is with: its newest text's.
    let number = page.items.first().map(|m| m.number.clone()).unwrap_or_default();
    let mut numbers = state.store.sending_numbers(caller.tenant.id, caller.viewer(), 100).await?;
    if matches!(caller.viewer(), Viewer::Tenant) {
        numbers.retain(|n| *n == number);
    }
    let opted_out = state.store.opted_out(caller.tenant.id, remote, &number).await?;
    let templates = state
        .store
        .list_templates(caller.tenant.id, switchboard_store::PageRequest::parse(Some("200"), None)?)
        .await?
        .items;
    let texts: Vec<&Message> = page.items.iter().rev().collect();
    let chosen = refused.as_ref().map_or(number.as_str(), |r| r.from);
    let error = refused.as_ref().map(|r| r.error.clone());
    let party = names.get(remote);
    Ok(layout::page(
        &format!("Texts with {}", party.and_then(|p| p.contact.clone()).unwrap_or_else(|| remote.to_owned())),
        Some(frame(visitor, caller)),
        html! {
            @if let Some(n) = notice { (layout::notice(n)) }
            p { a href="/portal/inbox" { "All conversations" } " · " (who(remote, party)) }
            @if let Some(next) = &page.next_cursor {
                p { a href={ "/portal/inbox/" (remote) "?before=" (next) } { "Older texts" } }
            }
            p.visually-hidden #live-announce role="status" {}
            button.link #notify type="button" hidden { "Notify me of new texts" }
            ol.thread aria-label="Texts, oldest first" data-live="" {
                @for m in &texts {
                    @let outgoing = m.direction == "outbound";
                    li.text.out[outgoing].in[!outgoing] data-id=(m.id) data-incoming=(if outgoing { "" } else { "1" }) data-from=(m.remote) {
                        p.meta {
                            @if outgoing {
                                "Sent from " (m.number)
                                @if let Some(ext) = &m.sender_extension { " by " (ext) }
                            } @else { "Received on " (m.number) }
                            ", " (when(&m.created_at, zone))
                        }
                        @if let Some(body) = &m.body { p.body { (body) } }
                        (attachments(m))
                        @if outgoing {
                            p.state data-status=(m.status) { (state_words(m)) }
                        }
                    }
                }
            }
            @if let (true, Some(e)) = (opted_out || numbers.is_empty(), &error) {
                p.error role="alert" { (e) }
            }
            @if opted_out {
                p.notice role="status" { (remote) " opted out of texts from " (number) " (they texted STOP): no reply can be sent until they text START." }
            } @else if numbers.is_empty() {
                p.muted { "You may not send from any number; a tenant admin can make your extension a sender of one." }
            } @else {
                form.fields.reply method="post" action={ "/portal/inbox/" (remote) "/reply" } {
                    (layout::csrf(visitor))
                    @if numbers.len() > 1 {
                        div.field {
                            label for="from" { "Send from" }
                            select #from name="from" {
                                @for n in &numbers { option value=(n) selected[n == chosen] { (n) } }
                            }
                        }
                    } @else {
                        input type="hidden" name="from" value=(numbers[0]);
                    }
                    @if !templates.is_empty() {
                        div.field {
                            label for="template" { "Quick reply" }
                            select #template data-fills="body" {
                                option value="" { "Type your own" }
                                @for t in &templates { option value=(t.body) { (t.name) } }
                            }
                        }
                    }
                    div.field {
                        label for="body" { "Reply" }
                        textarea #body name="body" rows="3" data-segments="" required
                                 aria-describedby=[error.as_ref().map(|_| "body-error")] aria-invalid=[error.as_ref().map(|_| "true")] {
                            (refused.as_ref().map_or("", |r| r.body))
                        }
                        @if let Some(e) = &error { p.error #body-error { (e) } }
                    }
                    div { button type="submit" { "Send" } }
                }
            }
        },
    ))
}

/// Sends a reply as the person: from a number they may send from, refused (with the text kept)
/// when it cannot go.
async fn reply(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let caller = sent.visitor.caller(&state, false).await?;
    let remote = req.match_info().get("remote").unwrap_or_default().to_owned();
    // Only a conversation the person can see is answered here.
    state.store.conversation_messages(caller.tenant.id, caller.viewer(), &remote, 1, None).await?;
    let body = sent.form.0.iter().find(|(k, _)| k == "body").map(|(_, v)| v.trim_end().to_owned()).unwrap_or_default();
    let from = sent.form.get("from").unwrap_or_default().to_owned();
    let input = SendInput {
        to: remote.clone(),
        body: (!body.trim().is_empty()).then(|| body.clone()),
        from: (!from.is_empty()).then(|| from.clone()),
        media_urls: vec![],
    };
    match state.engine.queue_text(caller.tenant.id, sender(&caller), input, None).await {
        Ok(_) => Ok(see_other(&format!("/portal/inbox/{remote}?done=sent"))),
        Err(e) => {
            let e = ApiError::from(e);
            if e.status().is_server_error() {
                return Err(e.into());
            }
            let error = match e.field_errors().first() {
                Some(f) => format!("{}: {}", f.field, f.message),
                None => e.detail().to_owned(),
            };
            let refused = Refused { body: &body, from: &from, error };
            let page = render_thread(&state, &sent.visitor, &caller, &remote, None, Some(refused), None).await?;
            Ok(html_status(e.status(), page))
        }
    }
}
