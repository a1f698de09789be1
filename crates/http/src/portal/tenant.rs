//! Tenants themselves: the operator's list (and adding one), and a tenant's settings (its name,
//! PBX webhook and its signing secret, whether a second factor is required; an operator may also
//! suspend it).

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use switchboard_store::PageRequest;

use super::form::{Errors, Field, Form, Kind, Values};
use super::layout::{self, Frame, when};
use super::session::{Submission, Visitor};
use super::{PortalError, html, html_status, see_other};
use crate::AppState;
use crate::api::tenants::{NewTenant, Tenant, TenantCreated, TenantPatch, WebhookSecretRotated};
use crate::auth::TenantScope;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tenants").route(web::get().to(tenants)).route(web::post().to(create)))
        .service(web::resource("/t/{tenant}/settings").route(web::get().to(settings)).route(web::post().to(update)))
        .route("/t/{tenant}/settings/webhook-secret", web::post().to(rotate));
}

fn new_fields() -> Vec<Field> {
    vec![
        Field::new("slug", "Slug", Kind::Text).help("2 to 63 of a-z, 0-9 and '-': the tenant's name in addresses."),
        Field::new("name", "Name", Kind::Text),
        Field::new("webhook_url", "PBX webhook URL", Kind::Optional)
            .help("Where its events are posted (signed); blank for none."),
        Field::new("timezone", "Time zone", Kind::Optional)
            .help("The IANA time zone its people read times in, such as America/New_York; blank for UTC."),
    ]
}

#[derive(Debug, Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
}

/// The operator's tenants, and a form to add one.
async fn tenants(
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<CursorQuery>,
) -> Result<HttpResponse, PortalError> {
    let page = render_tenants(&state, &visitor, q.cursor.as_deref(), None, None).await?;
    Ok(html(page))
}

async fn render_tenants(
    state: &AppState,
    visitor: &Visitor,
    cursor: Option<&str>,
    refused: Option<(Values, Errors)>,
    created: Option<&TenantCreated>,
) -> Result<Markup, PortalError> {
    if !visitor.is_operator() {
        return Err(ApiError::not_found().into());
    }
    let page = state.store.list_tenants(PageRequest::parse(None, cursor)?).await?;
    let fields = new_fields();
    let (values, errors) = refused.unwrap_or_default();
    let form = Form {
        id: "create",
        action: "/portal/tenants",
        fields: &fields,
        values: &values,
        errors: &errors,
        creating: true,
        submit: "Add the tenant",
        csrf: layout::csrf(visitor),
    };
    Ok(layout::page(
        "Tenants",
        Some(Frame { visitor, tenant: None, current: "tenants" }),
        html! {
            @if let Some(c) = created {
                (layout::notice(&format!("The tenant {} was added. Invite its admin from its People page.", c.tenant.slug)))
                div.once {
                    p { strong { "Its webhook signing secret" } " (shown this once; give it to whoever runs its PBX's webhook):" }
                    p { code.copy #once-webhook_secret { (c.webhook_secret) } }
                }
            }
            @if page.items.is_empty() {
                p { "No tenants yet." }
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
                                    td { (t.status.as_str()) }
                                    td { (when(&t.created_at, &t.timezone)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor { p { a href={ "/portal/tenants?cursor=" (next) } { "Next page" } } }
            }
            section aria-labelledby="add" {
                h2 #add { "Add a tenant" }
                (form.render())
            }
        },
    ))
}

async fn create(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    if !sent.visitor.is_operator() {
        return Err(ApiError::not_found().into());
    }
    let fields = new_fields();
    let body = super::form::to_json(&fields, &sent.form, true);
    let result = match crate::body::parse::<NewTenant>(body.to_string().as_bytes()) {
        Ok(new) => state.store.create_tenant(new.into()).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            state.engine.configuration_changed();
            let created = TenantCreated::from(created);
            crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&created.tenant.slug), 201, body)
                .await;
            Ok(html(render_tenants(&state, &sent.visitor, None, None, Some(&created)).await?))
        }
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            let refused = (Values::sent(&sent.form), Errors::from_api(&e, &fields, |_| None));
            Ok(html_status(e.status(), render_tenants(&state, &sent.visitor, None, Some(refused), None).await?))
        }
        Err(e) => Err(e.into()),
    }
}

/// The legend of the settings' SIP fields.
const SIP: &str = "Phones (SIP MESSAGE)";

fn sip_transports() -> Vec<(String, String)> {
    [("tls", "TLS (port 5061 unless given)"), ("tcp", "TCP (5060)"), ("udp", "UDP (5060)")]
        .map(|(v, l)| (v.to_owned(), l.to_owned()))
        .to_vec()
}

fn settings_fields(operator: bool) -> Vec<Field> {
    let mut fields = vec![
        Field::new("name", "Name", Kind::Text),
        Field::new("webhook_url", "PBX webhook URL", Kind::Optional)
            .help("Where the tenant's events (texts in, status changes) are posted, signed; blank for none."),
        Field::new("timezone", "Time zone", Kind::Text)
            .help("The IANA time zone the portal shows times in, such as America/New_York."),
        Field::new("require_totp", "Everyone must use a second factor", Kind::Flag)
            .help("People without one may only set one up (through the API) until they have."),
        Field::new("send_window_from", "Automated texts from", Kind::Time).help(
            "Auto-replies and reminders reach people only in daytime where they are (8:00 to 21:00, \
             less in some states and in Canada). To narrow it, give the hours; blank for the law's alone.",
        ),
        Field::new("send_window_until", "Automated texts until", Kind::Time),
        Field::new("sip_server", "PBX SIP server", Kind::Optional).group(SIP).help(
            "Where texts for extensions with a SIP user are sent as SIP MESSAGEs: host or host:port, such \
             as pbx.example.com. Blank: no SIP delivery.",
        ),
        Field::new("sip_domain", "SIP domain", Kind::Optional)
            .group(SIP)
            .help("The domain of the extensions' SIP addresses; blank: the server's host."),
        Field::new("sip_transport", "Transport", Kind::Choice { options: sip_transports(), blank: None })
            .group(SIP)
            .help("TLS unless the PBX cannot; UDP carries only short texts (longer ones go over TCP)."),
        Field::new("sip_username", "SIP username", Kind::Optional)
            .group(SIP)
            .help("The account Switchboard answers the PBX's digest challenges with; blank for none."),
        Field::new("sip_password", "SIP password", Kind::Secret)
            .group(SIP)
            .help("Kept encrypted and never shown; blank keeps the one set."),
    ];
    if operator {
        let statuses = vec![
            ("active".to_owned(), "Active: texts flow".to_owned()),
            ("suspended".to_owned(), "Suspended: texts are refused; its people may read only".to_owned()),
        ];
        fields.push(Field::new("status", "Status", Kind::Choice { options: statuses, blank: None }));
    }
    fields
}

fn settings_page(
    visitor: &Visitor,
    scope: &TenantScope,
    done: Option<&str>,
    refused: Option<(Values, Errors)>,
    rotated: Option<&WebhookSecretRotated>,
) -> Markup {
    let tenant = &scope.tenant;
    let fields = settings_fields(scope.is_system());
    let mut item = serde_json::to_value(Tenant::from(tenant.clone())).unwrap_or(Value::Null);
    // The window's two ends are two fields.
    if let Some(w) = item.get("send_window").cloned().filter(|w| !w.is_null()) {
        item["send_window_from"] = w["from"].clone();
        item["send_window_until"] = w["until"].clone();
    }
    // So are the SIP settings' parts.
    if let Some(sip) = item.get("sip").cloned().filter(|s| !s.is_null()) {
        for part in ["server", "domain", "transport", "username"] {
            item[format!("sip_{part}")] = sip[part].clone();
        }
    }
    let (values, errors) = refused.unwrap_or_else(|| (Values::of(&item), Errors::default()));
    let action = format!("/portal/t/{}/settings", tenant.slug);
    let form = Form {
        id: "change",
        action: &action,
        fields: &fields,
        values: &values,
        errors: &errors,
        creating: false,
        submit: "Save changes",
        csrf: layout::csrf(visitor),
    };
    layout::page(
        "Settings",
        Some(Frame { visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "settings" }),
        html! {
            @if done == Some("saved") { (layout::notice("Saved.")) }
            @if let Some(r) = rotated {
                (layout::notice("A new webhook signing secret signs from now on."))
                div.once {
                    p { strong { "The new webhook signing secret" } " (shown this once; the previous one also signs until "
                        (when(&r.previous_secret_valid_until, &tenant.timezone)) "):" }
                    p { code.copy #once-webhook_secret { (r.webhook_secret) } }
                }
            }
            (form.render())
            section aria-labelledby="secret-h" {
                h2 #secret-h { "Webhook signing secret" }
                p { "Events are signed (Standard Webhooks) with the tenant's secret"
                    @if let Some(at) = &tenant.webhook_secret_rotated_at { ", last replaced " (when(at, &tenant.timezone)) } "." }
                form method="post" action={ (action) "/webhook-secret" } {
                    (layout::csrf(visitor))
                    button type="submit" { "Make a new secret" }
                }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn settings(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<DoneQuery>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    Ok(html(settings_page(&visitor, &scope, q.done.as_deref(), None, None)))
}

async fn update(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    // An operator may resume a suspended tenant: the rule that a suspended tenant is read-only
    // holds for its own people.
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let fields = settings_fields(scope.is_system());
    let mut body = super::form::to_json(&fields, &sent.form, false);
    send_window(&mut body);
    sip(&mut body);
    let result = match crate::body::parse::<TenantPatch>(body.to_string().as_bytes()) {
        Ok(patch) => state.store.update_tenant(&slug, patch.into()).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            state.engine.configuration_changed();
            crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 200, body).await;
            Ok(see_other(&format!("/portal/t/{slug}/settings?done=saved")))
        }
        Err(e) if e.status().as_u16() == 422 => {
            let place = |field: &str| match field {
                "send_window" => Some("send_window_from".to_owned()),
                _ => field.strip_prefix("sip.").map(|part| format!("sip_{part}")),
            };
            let refused = (Values::sent(&sent.form), Errors::from_api(&e, &fields, place));
            Ok(html_status(e.status(), settings_page(&sent.visitor, &scope, None, Some(refused), None)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The form's two ends of the window as the API's one field: both blank clears it; one of them
/// alone is sent as it is, for the API to refuse in words.
fn send_window(body: &mut Value) {
    let Some(fields) = body.as_object_mut() else { return };
    let from = fields.remove("send_window_from");
    let until = fields.remove("send_window_until");
    let window = match (from, until) {
        (None, None) => Value::Null,
        (from, until) => serde_json::json!({
            "from": from.unwrap_or_else(|| Value::String(String::new())),
            "until": until.unwrap_or_else(|| Value::String(String::new())),
        }),
    };
    fields.insert("send_window".into(), window);
}

/// The form's SIP fields as the API's one `sip` object: a blank server turns SIP delivery off; a
/// blank password keeps the one set.
fn sip(body: &mut Value) {
    let Some(fields) = body.as_object_mut() else { return };
    let mut sip = serde_json::Map::new();
    for part in ["server", "domain", "transport", "username", "password"] {
        if let Some(v) = fields.remove(&format!("sip_{part}")).filter(|v| !v.is_null()) {
            sip.insert(part.to_owned(), v);
        }
    }
    let value = if sip.contains_key("server") { Value::Object(sip) } else { Value::Null };
    fields.insert("sip".into(), value);
}

async fn rotate(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let rotated = WebhookSecretRotated::from(state.store.rotate_webhook_secret(&slug).await?);
    crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 200, Value::Null).await;
    Ok(html(settings_page(&sent.visitor, &scope, None, None, Some(&rotated))))
}
