//! A person's own account: accepting an invitation (choosing a password), and their sessions.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::layout::{self, Frame, when};
use super::session::{FormData, Submission, Visitor, check_origin};
use super::{PortalError, html, html_status, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::auth::{accept, own_sessions};
use crate::routes::path_id;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/invitation").route(web::get().to(invitation_page)).route(web::post().to(accept_invitation)),
    )
    .route("/sessions", web::get().to(sessions))
    .route("/sessions/{id}/revoke", web::post().to(revoke));
}

#[derive(Debug, Deserialize)]
struct InvitationQuery {
    token: Option<String>,
}

fn invitation_form(token: &str, error: Option<&ApiError>) -> Markup {
    let password_error =
        error.and_then(|e| e.field_errors().iter().find(|f| f.field == "password")).map(|f| &f.message);
    let general = error.filter(|_| password_error.is_none()).map(ApiError::detail);
    layout::page(
        "Choose your password",
        None,
        html! {
            p { "You were invited to Switchboard. Choose a password of 12 characters or more (not your email); then sign in with your email and it." }
            form.fields method="post" action="/portal/invitation" aria-describedby=[general.map(|_| "invitation-error")] {
                @if let Some(g) = general { div.errors #invitation-error role="alert" { p { (g) } } }
                input type="hidden" name="token" value=(token);
                div.field {
                    label for="password" { "New password" }
                    input #password type="password" name="password" autocomplete="new-password" required minlength="12"
                          aria-invalid=[password_error.map(|_| "true")]
                          aria-describedby=[password_error.map(|_| "password-error")];
                    @if let Some(m) = password_error { p.field-error #password-error { (m) } }
                }
                div.field {
                    label for="again" { "The same password again" }
                    input #again type="password" name="again" autocomplete="new-password" required;
                }
                button type="submit" { "Set my password" }
            }
        },
    )
}

async fn invitation_page(q: web::Query<InvitationQuery>) -> HttpResponse {
    html(invitation_form(q.token.as_deref().unwrap_or_default(), None))
}

/// Sets the invited person's password with the API's own call; then they sign in.
async fn accept_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    // No session yet: the form must come from the portal's own site.
    check_origin(&req, &state.public_url)?;
    let form = FormData::parse(&body);
    let token = form.get("token").unwrap_or_default().to_owned();
    let raw = |name: &str| form.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let (password, again) = (raw("password"), raw("again"));
    if password != again {
        let e = ApiError::invalid(vec![switchboard_core::FieldError {
            field: "password".into(),
            message: "the two passwords are not the same".into(),
        }]);
        return Ok(html_status(e.status(), invitation_form(&token, Some(&e))));
    }
    match accept(&state, &req, &token, SecretString::from(password)).await {
        Ok(()) => Ok(see_other("/portal/sign-in?done=password")),
        Err(e) if matches!(e.status().as_u16(), 404 | 422) => {
            Ok(html_status(e.status(), invitation_form(&token, Some(&e))))
        }
        Err(e) => Err(e.into()),
    }
}

/// The person's own live sessions, with a way to end each.
async fn sessions(visitor: Visitor, state: web::Data<AppState>) -> Result<HttpResponse, PortalError> {
    let identity = &visitor.identity;
    let list = own_sessions(&state, identity).await?;
    let found = match &identity.tenant {
        Some((_, slug)) => Some(state.store.tenant_by_slug(slug).await?),
        None => None,
    };
    let tenant = found.as_ref().map(|t| (t.slug.as_str(), t.name.as_str()));
    let zone = found.as_ref().map_or("UTC", |t| t.timezone.as_str());
    Ok(html(layout::page(
        "Your sessions",
        Some(Frame { visitor: &visitor, tenant, current: "sessions" }),
        html! {
            p.about { "Where you are signed in. Ending a session signs that browser or program out at once." }
            div.table-wrap {
                table {
                    caption.visually-hidden { "Your sessions" }
                    thead { tr { th scope="col" { "Started" } th scope="col" { "From" } th scope="col" { "Browser or program" } th scope="col" { "Last used" } th scope="col" { "Ends" } th scope="col" { span.visually-hidden { "Action" } } } }
                    tbody {
                        @for s in &list {
                            tr {
                                th scope="row" { (when(&s.created_at, zone)) @if s.current { " (this one)" } }
                                td { (s.address.clone().unwrap_or_default()) }
                                td { (s.user_agent.clone().unwrap_or_default()) }
                                td { (when(&s.last_seen_at, zone)) }
                                td { (when(&s.expires_at, zone)) }
                                td {
                                    form method="post" action={ "/portal/sessions/" (s.id) "/revoke" } {
                                        (layout::csrf(&visitor))
                                        button.link type="submit" { @if s.current { "Sign out here" } @else { "End it" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

async fn revoke(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let id = path_id(req.match_info().get("id").unwrap_or_default())?;
    let identity = &sent.visitor.identity;
    state.store.revoke_session(identity.account_id, id).await?;
    crate::audit::record_portal(&state, &req, identity, None, 204, serde_json::Value::Null).await;
    if id == identity.session_id {
        return Ok(see_other("/portal/sign-in"));
    }
    Ok(see_other("/portal/sessions"))
}
