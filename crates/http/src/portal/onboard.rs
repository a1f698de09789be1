//! Connecting a provider's Flowroute account, from its page: the account's numbers and importing
//! them, enabling texting on them, and pointing Flowroute's callbacks at Switchboard — the API's
//! own onboarding calls (`routes::providers`), with their results shown.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::form::{Errors, Field, Form, Kind, Values, text};
use super::layout::{self, Frame};
use super::screens::Lookups;
use super::session::{Submission, Visitor};
use super::{PortalError, html, html_status};
use crate::AppState;
use crate::api::providers::{
    CallbackDestination, CallbackResults, EnableMessaging, ImportNumbers, ImportResult, MessagingResult, RemoteNumbers,
};
use crate::auth::TenantScope;
use crate::error::ApiError;
use crate::routes::path_id;
use crate::routes::providers::{self as api, Providers};
use crate::routes::resource::Resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let base = "/t/{tenant}/providers/{id}/account";
    cfg.route(base, web::get().to(page))
        .route(&format!("{base}/import"), web::post().to(import))
        .route(&format!("{base}/enable"), web::post().to(enable))
        .route(&format!("{base}/callbacks"), web::post().to(callbacks))
        .route(&format!("{base}/look"), web::post().to(look));
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    offset: Option<String>,
}

/// What the last action on the page did.
enum Outcome {
    Imported(ImportResult),
    Enabled(MessagingResult),
    Callbacks(CallbackResults),
}

struct Ctx {
    scope: TenantScope,
    provider: Uuid,
    name: String,
}

async fn ctx(req: &HttpRequest, visitor: &Visitor, state: &AppState, read_only: bool) -> Result<Ctx, PortalError> {
    let scope = visitor.tenant(state, req, read_only).await?;
    let provider = path_id(req.match_info().get("id").unwrap_or_default())?;
    let item = Providers::get(state, scope.tenant.id, provider).await?;
    Ok(Ctx { scope, provider, name: item.name })
}

fn import_fields(remote: Option<&RemoteNumbers>, l: &Lookups) -> Vec<Field> {
    let choices: Vec<(String, String)> = remote
        .map(|r| {
            r.items
                .iter()
                .filter(|n| !n.in_switchboard)
                .map(|n| {
                    (n.e164.clone(), format!("{} {}", n.e164, n.alias.clone().unwrap_or_default()).trim().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    vec![
        Field::new("numbers", "Numbers to add", Kind::Checks(choices))
            .help("Numbers already in Switchboard are not offered."),
        Field::new(
            "prefix",
            "Prefix",
            Kind::Choice { options: l.prefixes.clone(), blank: Some("This provider's only prefix") },
        ),
        Field::new("policy_id", "Policy", Kind::Choice { options: l.policies.clone(), blank: Some("None") }),
        Field::new("destinations", "Destinations", Kind::Checks(l.extensions.clone()))
            .help("The extensions that get their texts."),
        Field::new("senders", "Senders", Kind::Checks(l.extensions.clone()))
            .help("The extensions that may send from them."),
    ]
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    c: &Ctx,
    offset: Option<&str>,
    outcome: Option<Outcome>,
    refused: Option<(Values, Errors)>,
) -> Result<Markup, PortalError> {
    let tenant = &c.scope.tenant;
    let remote = api::remote_page(state, tenant.id, c.provider, None, offset).await;
    let (remote, remote_error) = match remote {
        Ok(r) => (Some(r), None),
        Err(e) if matches!(e.status().as_u16(), 502 | 503 | 422) => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let lookups = Lookups::load(
        state,
        tenant,
        &[super::screens::Lookup::Prefixes, super::screens::Lookup::Policies, super::screens::Lookup::Extensions],
    )
    .await?;
    let fields = import_fields(remote.as_ref(), &lookups);
    let (values, errors) = refused.unwrap_or_default();
    let base = format!("/portal/t/{}/providers/{}/account", tenant.slug, c.provider);
    let provider_href = format!("/portal/t/{}/providers/{}", tenant.slug, c.provider);
    let action = format!("{base}/import");
    let form = Form {
        id: "import",
        action: &action,
        fields: &fields,
        values: &values,
        errors: &errors,
        creating: true,
        submit: "Add the numbers ticked",
        csrf: layout::csrf(visitor),
    };
    Ok(layout::page(
        &format!("Flowroute account of {}", c.name),
        Some(Frame { visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "providers" }),
        html! {
            p { a href=(provider_href) { "Back to the provider" } }
            @if let Some(o) = &outcome { (outcome_markup(o)) }
            section aria-labelledby="numbers-h" {
                h2 #numbers-h { "The account's numbers" }
                @if let Some(e) = &remote_error {
                    p.error role="alert" { "Flowroute's list of numbers could not be read: " (e.detail()) }
                }
                @if let Some(r) = &remote {
                    @if r.items.is_empty() {
                        p { "The account holds no numbers." }
                    } @else {
                        div.table-wrap {
                            table {
                                caption.visually-hidden { "The account's numbers" }
                                thead { tr { th scope="col" { "Number" } th scope="col" { "Name at Flowroute" } th scope="col" { "Texting" } th scope="col" { "In Switchboard" } } }
                                tbody {
                                    @for n in &r.items {
                                        tr {
                                            th scope="row" { (n.e164) }
                                            td { (n.alias.clone().unwrap_or_default()) }
                                            td { (match n.messaging_enabled { Some(true) => "enabled", Some(false) => "not enabled", None => "unknown" }) }
                                            td { @if n.in_switchboard { a href={ "/portal/t/" (tenant.slug) "/numbers/" (n.e164) } { "yes" } } @else { "no" } }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some(next) = r.next_offset { p { a href={ (base) "?offset=" (next) } { "More numbers" } } }
                    }
                }
            }
            section aria-labelledby="import-h" {
                h2 #import-h { "Add numbers to Switchboard" }
                (form.render())
            }
            section aria-labelledby="enable-h" {
                h2 #enable-h { "Texting" }
                p { "Flowroute's numbers start with texting off. This asks Flowroute to turn it on for each of this provider's numbers in Switchboard that lack it." }
                form method="post" action={ (base) "/enable" } {
                    (layout::csrf(visitor))
                    button type="submit" { "Enable texting" }
                }
            }
            section aria-labelledby="callbacks-h" {
                h2 #callbacks-h { "Callbacks" }
                p { "Flowroute posts texts and delivery receipts where each number's callbacks point. This points them at Switchboard (each number's prefix, with its token), and reads them back." }
                form method="post" action={ (base) "/callbacks" } {
                    (layout::csrf(visitor))
                    fieldset {
                        legend { "Point them at" }
                        div.check { input #to-prefix type="radio" name="to" value="prefix" checked; label for="to-prefix" { "Each number's prefix" } }
                        div.check { input #to-shared type="radio" name="to" value="shared"; label for="to-shared" { "The operator's shared address" } }
                    }
                    button type="submit" { "Point the callbacks at Switchboard" }
                }
                form method="post" action={ (base) "/look" } {
                    (layout::csrf(visitor))
                    button type="submit" { "Look where they point now" }
                }
            }
        },
    ))
}

fn outcome_markup(o: &Outcome) -> Markup {
    match o {
        Outcome::Imported(r) => html! {
            div.notice role="status" {
                p { (r.created.len()) " number" (if r.created.len() == 1 { "" } else { "s" }) " added" @if !r.created.is_empty() { ": " (r.created.join(", ")) } "." }
                @for s in &r.skipped {
                    p { (s.e164) " left alone: " (match serde_json::to_value(s.reason).ok().as_ref().map(text).as_deref() {
                        Some("already_added") => "this tenant has it already",
                        Some("held_by_another_tenant") => "another tenant has it",
                        _ => "left alone",
                    }) "." }
                }
            }
        },
        Outcome::Enabled(r) => html! {
            div.notice role="status" {
                p { "Texting: " (r.status) "." }
                @if !r.successful.is_empty() { p { "Enabled: " (r.successful.join(", ")) } }
                @if !r.processing.is_empty() { p { "Still in progress at Flowroute (ask again later): " (r.processing.join(", ")) } }
                @if !r.failed.is_empty() { p.error { "Refused by Flowroute: " (r.failed.join(", ")) } }
            }
        },
        Outcome::Callbacks(r) => html! {
            div.notice role="status" {
                @if r.numbers.is_empty() { p { "This provider has no numbers in Switchboard yet." } }
                ul {
                    @for n in &r.numbers {
                        li { (n.e164) ": " (text(&serde_json::to_value(n.state).unwrap_or_default()))
                            @if let Some(d) = &n.detail { " — " (d) }
                            @if n.changed { " (changed now)" } }
                    }
                }
            }
        },
    }
}

async fn page(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, PortalError> {
    let c = ctx(&req, &visitor, &state, true).await?;
    Ok(html(render(&state, &visitor, &c, q.offset.as_deref(), None, None).await?))
}

/// A refusal shown on the page (the API's words), or an error page for what a person cannot fix.
async fn after(
    state: &AppState,
    req: &HttpRequest,
    sent: &Submission,
    c: &Ctx,
    result: Result<Outcome, ApiError>,
    fields: &[Field],
    body: serde_json::Value,
) -> Result<HttpResponse, PortalError> {
    match result {
        Ok(o) => {
            crate::audit::record_portal(state, req, &sent.visitor.identity, Some(&c.scope.tenant.slug), 200, body)
                .await;
            Ok(html(render(state, &sent.visitor, c, None, Some(o), None).await?))
        }
        Err(e) if matches!(e.status().as_u16(), 422 | 502 | 503) => {
            let refused = (Values::sent(&sent.form), Errors::from_api(&e, fields, |_| None));
            Ok(html_status(e.status(), render(state, &sent.visitor, c, None, None, Some(refused)).await?))
        }
        Err(e) => Err(e.into()),
    }
}

async fn import(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let c = ctx(&req, &sent.visitor, &state, false).await?;
    let lookups = Lookups::default();
    let fields = import_fields(None, &lookups);
    let body = super::form::to_json(&fields, &sent.form, true);
    // Nothing ticked is a refusal, not "every number" (which the API reads from an absent list).
    if body["numbers"].as_array().is_none_or(Vec::is_empty) {
        let e = ApiError::invalid(vec![switchboard_core::FieldError {
            field: "numbers".into(),
            message: "tick the numbers to add".into(),
        }]);
        return after(&state, &req, &sent, &c, Err(e), &fields, body).await;
    }
    let result = match crate::body::parse::<ImportNumbers>(body.to_string().as_bytes()) {
        Ok(b) => api::import(&state, c.scope.tenant.id, c.provider, b).await.map(Outcome::Imported),
        Err(e) => Err(e),
    };
    after(&state, &req, &sent, &c, result, &fields, body).await
}

async fn enable(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let c = ctx(&req, &sent.visitor, &state, false).await?;
    let result = api::enable(&state, c.scope.tenant.id, c.provider, EnableMessaging { numbers: None })
        .await
        .map(Outcome::Enabled);
    after(&state, &req, &sent, &c, result, &[], serde_json::json!({})).await
}

async fn callbacks(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let c = ctx(&req, &sent.visitor, &state, false).await?;
    let to =
        if sent.form.get("to") == Some("shared") { CallbackDestination::Shared } else { CallbackDestination::Prefix };
    let body = serde_json::json!({"to": if matches!(to, CallbackDestination::Shared) { "shared" } else { "prefix" }});
    let result = api::apply(&state, c.scope.tenant.id, c.provider, to).await.map(Outcome::Callbacks);
    after(&state, &req, &sent, &c, result, &[], body).await
}

async fn look(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let c = ctx(&req, &sent.visitor, &state, false).await?;
    let result = api::look(&state, c.scope.tenant.id, c.provider).await.map(Outcome::Callbacks);
    after(&state, &req, &sent, &c, result, &[], serde_json::Value::Null).await
}
