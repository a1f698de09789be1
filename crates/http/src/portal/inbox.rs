//! The inbox: an extension user's conversations (a tenant admin's: the whole tenant's), a thread
//! per conversation (one of the tenant's numbers and one other party) with each outgoing text's
//! delivery state in words and pictures as thumbnails, and a reply box that takes a picture — or,
//! for a remote who opted out, a note saying why there is none. On a shared number a person takes
//! a conversation (the others see who has it) and marks it done; unread counts are each person's.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_store::inbox::{Conversation, ConversationQuery, Handling, PartyName, Reader, Shown, Viewer};
use switchboard_store::messages::Message;
use switchboard_store::outbound::{SendInput, Sender};
use uuid::Uuid;

use super::layout::{self, Frame, when};
use super::session::{CSRF_FIELD, Submission, Visitor, uploader};
use super::{PortalError, html, html_status, see_other};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/inbox", web::get().to(list))
        .route("/inbox/{conversation}", web::get().to(thread))
        .route("/inbox/{conversation}/reply", web::post().to(reply))
        .route("/inbox/{conversation}/{action}", web::post().to(handle));
}

/// The person reading: their read marker and name.
async fn reader(state: &AppState, visitor: &Visitor) -> Result<(Reader, String), PortalError> {
    Ok(state.store.reader(visitor.identity.account_id).await?)
}

/// The conversation a path names, as the viewer may see it.
async fn conversation_of(state: &AppState, caller: &Caller, req: &HttpRequest) -> Result<Conversation, PortalError> {
    let id =
        req.match_info().get("conversation").and_then(|c| Uuid::try_parse(c).ok()).ok_or_else(ApiError::not_found)?;
    Ok(state.store.conversation(caller.tenant.id, caller.viewer(), id).await?)
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
    show: Option<String>,
}

/// The lists a person can pick: (query value, label).
const TABS: [(&str, &str); 4] = [("open", "Open"), ("mine", "Taken by me"), ("done", "Done"), ("all", "All")];

/// Who has a conversation, and whether it is done, in words.
fn handling_words(c: &Conversation, me: Uuid) -> Option<String> {
    let holder = c.assigned_to.as_ref().map(|(id, name)| if *id == me { "you".to_owned() } else { name.clone() });
    match (holder, c.done_at.is_some()) {
        (Some(h), true) => Some(format!("Done; {h} had it")),
        (None, true) => Some("Done".to_owned()),
        (Some(h), false) => Some(format!("{} {} it", capitalised(&h), if h == "you" { "have" } else { "has" })),
        (None, false) => None,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The conversations, newest first, with unread counts and who is on the other end.
async fn list(
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PortalError> {
    let caller = visitor.caller(&state, true).await?;
    let (me, _) = reader(&state, &visitor).await?;
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let tab = TABS.iter().find(|(v, _)| Some(*v) == q.show.as_deref()).map_or("open", |(v, _)| *v);
    let shown = match tab {
        "mine" => Shown::TakenBy(me.account),
        "done" => Shown::Done,
        "all" => Shown::All,
        _ => Shown::Open,
    };
    let query = ConversationQuery { search, shown, reader: Some(me) };
    let page =
        state.store.list_conversations(caller.tenant.id, caller.viewer(), 50, q.cursor.as_deref(), query).await?;
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
            nav.tabs aria-label="Which conversations" {
                @for (value, label) in TABS {
                    a href={ "/portal/inbox?show=" (value) } aria-current=[(value == tab).then_some("page")] { (label) }
                }
            }
            form.filters method="get" action="/portal/inbox" role="search" {
                input type="hidden" name="show" value=(tab);
                div.field {
                    label for="q" { "Find by number, name or text" }
                    input #q type="search" name="q" value=(search.unwrap_or_default());
                }
                button type="submit" { "Find" }
                @if search.is_some() { a href={ "/portal/inbox?show=" (tab) } { "Show all" } }
            }
            p.visually-hidden #live-announce role="status" {}
            button.link #notify type="button" hidden { "Notify me of new texts" }
            div data-live="list" {
            @if page.items.is_empty() {
                p { @if search.is_some() { "No conversation matches." } @else if tab == "open" { "No open conversations." } @else { "None here." } }
            } @else {
                ul.conversations {
                    @for c in &page.items {
                        li.unread[c.unread > 0] data-id=(c.last_message_id.map(|m| m.to_string()).unwrap_or_default())
                            data-incoming=(if c.unread > 0 { "1" } else { "" }) data-from=(c.remote) {
                            a href={ "/portal/inbox/" (c.id) } {
                                span.party { (who(&c.remote, names.get(&c.remote))) }
                                " "
                                span.muted { "to " (c.number) ", " (when(&c.last_message_at, zone)) }
                                @if c.unread > 0 {
                                    " " span.badge { (c.unread) " unread" }
                                }
                                @if let Some(h) = handling_words(c, me.account) {
                                    " " span.holder { (h) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a href={ "/portal/inbox?show=" (tab) "&cursor=" (next) @if let Some(s) = search { "&q=" (url_part(s)) } } { "Older conversations" } }
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
                            img.thumb src=(href) loading="lazy"
                                alt={ "Picture " (i + 1) @if m.direction == "outbound" { " sent to " } @else { " from " } (m.remote) };
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

/// One conversation's texts, oldest first, who has it, and the reply box under them; reading it
/// marks it read for this person (not while the page is out of view: a live page reads itself
/// again then, and the texts are not yet seen). `/portal/inbox/+1…` opens the newest conversation
/// with that number.
async fn thread(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ThreadQuery>,
) -> Result<HttpResponse, PortalError> {
    let caller = visitor.caller(&state, true).await?;
    let key = req.match_info().get("conversation").unwrap_or_default();
    if key.starts_with('+') {
        let id = state.store.conversation_with(caller.tenant.id, caller.viewer(), key).await?;
        return Ok(see_other(&format!("/portal/inbox/{id}")));
    }
    let c = conversation_of(&state, &caller, &req).await?;
    let notice = match q.done.as_deref() {
        Some("sent") => Some("Your reply is queued; its state shows below."),
        Some("take") => Some("You have this conversation now."),
        Some("letgo") => Some("You let go of this conversation."),
        Some("done") => Some("Marked done. A new text from them opens it again."),
        Some("reopen") => Some("Opened again."),
        _ => None,
    };
    let (me, _) = reader(&state, &visitor).await?;
    let (page, newest) = render_thread(&state, &visitor, &caller, &c, q.before.as_deref(), None, notice).await?;
    let unseen = req.headers().get("x-switchboard-unseen").is_some();
    if let (Some(newest), false) = (newest, unseen) {
        // Read once shown; a failure to mark it costs an unread count, not the page.
        let marked = async {
            state.store.mark_read_by(me, c.id, newest).await?;
            state.store.mark_read(caller.tenant.id, caller.viewer(), &c.remote).await
        };
        if let Err(e) = marked.await {
            tracing::warn!(error = %e, "a conversation could not be marked read");
        }
    }
    Ok(html(page))
}

/// A reply box's refusal: what was typed, and why (beside the field it is about).
struct Refused<'a> {
    body: &'a str,
    from: &'a str,
    field: String,
    error: String,
}

/// The thread's page, and the newest text it shows (the one reading it marks read through).
async fn render_thread(
    state: &AppState,
    visitor: &Visitor,
    caller: &Caller,
    c: &Conversation,
    before: Option<&str>,
    refused: Option<Refused<'_>>,
    notice: Option<&str>,
) -> Result<(Markup, Option<Uuid>), PortalError> {
    let cursor = match before.filter(|b| !b.is_empty()) {
        Some(b) => Some(Uuid::try_parse(b).map_err(|_| ApiError::not_found())?),
        None => None,
    };
    let remote = c.remote.as_str();
    let number = c.number.as_str();
    let page = state
        .store
        .conversation_messages(caller.tenant.id, caller.viewer(), (Some(number), remote), THREAD_PAGE, cursor)
        .await?;
    let names = state.store.party_names(caller.tenant.id, &[remote.to_owned()]).await?;
    let zone = &caller.tenant.timezone;
    let mut numbers = state.store.sending_numbers(caller.tenant.id, caller.viewer(), 100).await?;
    if matches!(caller.viewer(), Viewer::Tenant) {
        numbers.retain(|n| n == number);
    }
    let opted_out = state.store.opted_out(caller.tenant.id, remote, number).await?;
    let templates = state
        .store
        .list_templates(caller.tenant.id, switchboard_store::PageRequest::parse(Some("200"), None)?)
        .await?
        .items;
    let texts: Vec<&Message> = page.items.iter().rev().collect();
    let chosen = refused.as_ref().map_or(number, |r| r.from);
    let error_of = |field: &str| refused.as_ref().filter(|r| r.field == field).map(|r| r.error.clone());
    let (body_error, picture_error) = (error_of("body"), error_of("attachment"));
    let party = names.get(remote);
    let me = visitor.identity.account_id;
    let base = format!("/portal/inbox/{}", c.id);
    let markup = layout::page(
        &format!("Texts with {}", party.and_then(|p| p.contact.clone()).unwrap_or_else(|| remote.to_owned())),
        Some(frame(visitor, caller)),
        html! {
            @if let Some(n) = notice { (layout::notice(n)) }
            p { a href="/portal/inbox" { "All conversations" } " · " (who(remote, party)) " · on " (number) }
            div.handling data-live="handling" {
                p.holder {
                    @match &c.assigned_to {
                        Some((id, _)) if *id == me => "You have this conversation.",
                        Some((_, name)) => { (name) " has this conversation." }
                        None => "No one has taken this conversation.",
                    }
                    @if c.done_at.is_some() { " It is marked done." }
                }
                div.actions {
                    @if c.assigned_to.as_ref().is_some_and(|(id, _)| *id == me) {
                        (action(visitor, &base, "letgo", "Let go"))
                    } @else if c.assigned_to.is_some() {
                        (action(visitor, &base, "take", "Take it over"))
                    } @else {
                        (action(visitor, &base, "take", "Take it"))
                    }
                    @if c.done_at.is_some() {
                        (action(visitor, &base, "reopen", "Open again"))
                    } @else {
                        (action(visitor, &base, "done", "Mark done"))
                    }
                }
            }
            @if let Some(next) = &page.next_cursor {
                p { a href={ (base) "?before=" (next) } { "Older texts" } }
            }
            p.visually-hidden #live-announce role="status" {}
            button.link #notify type="button" hidden { "Notify me of new texts" }
            ol.thread aria-label="Texts, oldest first" data-live="thread" {
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
            @if let (true, Some(r)) = (opted_out || numbers.is_empty(), &refused) {
                p.error role="alert" { (r.error) }
            }
            @if opted_out {
                p.notice role="status" { (remote) " opted out of texts from " (number) " (they texted STOP): no reply can be sent until they text START." }
            } @else if numbers.is_empty() {
                p.muted { "You may not send from any number; a tenant admin can make your extension a sender of one." }
            } @else {
                form.fields.reply method="post" action={ (base) "/reply" } enctype="multipart/form-data" {
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
                        textarea #body name="body" rows="3" data-segments=""
                                 aria-describedby=[body_error.as_ref().map(|_| "body-error")] aria-invalid=[body_error.as_ref().map(|_| "true")] {
                            (refused.as_ref().map_or("", |r| r.body))
                        }
                        @if let Some(e) = &body_error { p.error #body-error { (e) } }
                    }
                    div.field {
                        label for="attachment" { "Picture (JPEG, PNG or GIF, at most " (switchboard_engine::MMS_MAX_BYTES / 1000) " KB)" }
                        input #attachment type="file" name="attachment" accept="image/jpeg,image/png,image/gif"
                              aria-describedby=[picture_error.as_ref().map(|_| "attachment-error")] aria-invalid=[picture_error.as_ref().map(|_| "true")];
                        @if let Some(e) = &picture_error { p.error #attachment-error { (e) } }
                    }
                    div { button type="submit" { "Send" } }
                }
            }
        },
    );
    Ok((markup, page.items.first().map(|m| m.id)))
}

/// A one-button form that takes, lets go of, finishes or reopens the conversation.
fn action(visitor: &Visitor, base: &str, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action={ (base) "/" (action) } {
            (layout::csrf(visitor))
            button type="submit" { (label) }
        }
    }
}

/// Takes, lets go of, finishes or reopens a conversation, for everyone sharing it to see live.
async fn handle(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let caller = sent.visitor.caller(&state, false).await?;
    let c = conversation_of(&state, &caller, &req).await?;
    let (me, name) = reader(&state, &sent.visitor).await?;
    let action = req.match_info().get("action").unwrap_or_default();
    let handling = match action {
        "take" => Handling::Take(me.account),
        "letgo" => Handling::LetGo(me.account),
        "done" => Handling::Done,
        "reopen" => Handling::Reopen,
        _ => return Err(ApiError::not_found().into()),
    };
    state.engine.handle_conversation(caller.tenant.id, caller.viewer(), c.id, handling, &name).await?;
    Ok(see_other(&format!("/portal/inbox/{}?done={action}", c.id)))
}

/// The largest picture read from an upload before it is refused as too large (the refusal names
/// Flowroute's limit; anything past this is not even read).
const UPLOAD_CAP: usize = 32 * 1024 * 1024;

/// A reply form as sent: its CSRF token, fields and picture (with its file name).
#[derive(Default)]
struct ReplyForm {
    token: String,
    body: String,
    from: String,
    /// The picture's bytes, or `None` past Flowroute's limit (`Some(len)` in `over`).
    picture: Option<(Vec<u8>, Option<String>)>,
    over: Option<usize>,
}

/// A field's bytes, at most `max` kept; the count of all it held.
async fn field_upto(field: &mut actix_multipart::Field, max: usize) -> Result<(Vec<u8>, usize), ApiError> {
    let mut bytes = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| ApiError::malformed("The upload could not be read."))?;
        total += chunk.len();
        if total > UPLOAD_CAP {
            return Err(ApiError::too_large(UPLOAD_CAP));
        }
        if bytes.len() + chunk.len() <= max {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok((bytes, total))
}

async fn read_reply(mut body: Multipart) -> Result<ReplyForm, ApiError> {
    let mut form = ReplyForm::default();
    let text = |(b, total): (Vec<u8>, usize), max: usize| {
        if total > max {
            return Err(ApiError::too_large(max));
        }
        String::from_utf8(b).map_err(|_| ApiError::malformed("A field is not UTF-8 text."))
    };
    while let Some(field) = body.next().await {
        let mut field = field.map_err(|_| ApiError::malformed("The upload could not be read."))?;
        match field.name() {
            Some(CSRF_FIELD) => form.token = text(field_upto(&mut field, 256).await?, 256)?,
            Some("body") => form.body = text(field_upto(&mut field, 64 * 1024).await?, 64 * 1024)?,
            Some("from") => form.from = text(field_upto(&mut field, 64).await?, 64)?,
            Some("attachment") => {
                let name = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
                let limit = switchboard_engine::MMS_MAX_BYTES;
                let (bytes, total) = field_upto(&mut field, limit).await?;
                if total > limit {
                    form.over = Some(total);
                } else if !bytes.is_empty() {
                    form.picture = Some((bytes, name));
                }
            }
            _ => {
                field_upto(&mut field, 0).await?;
            }
        }
    }
    Ok(form)
}

/// Sends a reply as the person: from a number they may send from, with a picture if they chose
/// one, refused (with the text kept) when it cannot go.
async fn reply(req: HttpRequest, state: web::Data<AppState>, body: Multipart) -> Result<HttpResponse, PortalError> {
    let form = read_reply(body).await?;
    let visitor = uploader(&req, &form.token).await?;
    let caller = visitor.caller(&state, false).await?;
    let c = conversation_of(&state, &caller, &req).await?;
    let text = form.body.trim_end().to_owned();
    let refuse = |field: &str, error: String| (field.to_owned(), error);
    let queued = async {
        if let Some(total) = form.over {
            return Err(ApiError::from(switchboard_engine::picture_too_large(total)));
        }
        let attachments = match &form.picture {
            Some((bytes, name)) => vec![state.engine.keep_picture(caller.tenant.id, bytes, name.as_deref()).await?],
            None => vec![],
        };
        let input = SendInput {
            to: c.remote.clone(),
            body: (!text.trim().is_empty()).then(|| text.clone()),
            from: Some(if form.from.is_empty() { c.number.clone() } else { form.from.clone() }),
            media_urls: vec![],
            attachments,
            // A person answering in a conversation: never held to quiet hours.
            automated: false,
        };
        state.engine.queue_text(caller.tenant.id, sender(&caller), input, None).await.map_err(ApiError::from)
    };
    match queued.await {
        Ok(_) => Ok(see_other(&format!("/portal/inbox/{}?done=sent", c.id))),
        Err(e) => {
            if e.status().is_server_error() {
                return Err(e.into());
            }
            let (field, error) = match e.field_errors().first() {
                Some(f) if f.field == "attachment" => refuse("attachment", f.message.clone()),
                Some(f) if f.field == "body" => refuse("body", f.message.clone()),
                Some(f) => refuse("body", format!("{}: {}", f.field, f.message)),
                None => refuse("body", e.detail().to_owned()),
            };
            let refused = Refused { body: &text, from: &form.from, field, error };
            let (page, _) = render_thread(&state, &visitor, &caller, &c, None, Some(refused), None).await?;
            Ok(html_status(e.status(), page))
        }
    }
}
