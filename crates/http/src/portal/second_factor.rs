//! A person's second factor (TOTP): set up by scanning a QR code (or typing the secret) and
//! confirming a code, which shows the recovery codes once; turned off with the password where the
//! tenant does not require one. A person whose tenant requires one and who has none is sent here
//! from every other page.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, PreEscaped, html};
use secrecy::{ExposeSecret, SecretString};
use switchboard_store::second_factor::{SecondFactorState, TotpSetup};

use super::layout::{self, Frame};
use super::session::{Enrolling, EnrollingSubmission, Visitor};
use super::{PortalError, html, html_status};
use crate::AppState;
use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/second-factor", web::get().to(show))
        .route("/second-factor/begin", web::post().to(begin))
        .route("/second-factor/confirm", web::post().to(confirm))
        .route("/second-factor/disable", web::post().to(disable));
}

/// Records a step of the person's second factor in the audit log, under their own tenant.
async fn record(state: &AppState, req: &HttpRequest, visitor: &Visitor, step: &str) {
    let tenant = visitor.identity.tenant.as_ref().map(|(_, slug)| slug.as_str());
    let changes = serde_json::json!({ "second_factor": step });
    crate::audit::record_portal(state, req, &visitor.identity, tenant, 200, changes).await;
}

/// The otpauth URL as a QR code, drawn as SVG (no script, no inline style).
fn qr(url: &str) -> Markup {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
            // The SVG is the crate's own drawing of the URL, with nothing of the page's input in
            // it but the URL's bits; its XML declaration is left out.
            let svg = svg.split_once("?>").map_or(svg.as_str(), |(_, rest)| rest).trim().to_owned();
            html! { div.qr role="img" aria-label="QR code of the authenticator's setup" { (PreEscaped(svg)) } }
        }
        Err(_) => html! { p { "The QR code could not be drawn; type the secret below instead." } },
    }
}

fn page(visitor: &Visitor, state: &SecondFactorState, error: Option<&str>, notice: Option<&str>) -> Markup {
    layout::page(
        "Second factor",
        Some(Frame { visitor, tenant: None, current: "second-factor" }),
        html! {
            @if let Some(n) = notice { (layout::notice(n)) }
            @if visitor.identity.must_set_up_second_factor {
                p.error role="alert" { "Your tenant requires a second factor. Set one up to use the portal." }
            } @else {
                p { a href="/portal/" { "Back to the portal" } }
            }
            @if state.on {
                p { strong { "On." } " Signing in asks for a code from your authenticator app (or one of your "
                    (state.recovery_codes_left) " unused recovery codes)." }
                @if state.required {
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    p { "Your tenant requires it, so it cannot be turned off." }
                } @else {
                    section aria-labelledby="off-h" {
                        h2 #off-h { "Turn it off" }
                        form.fields method="post" action="/portal/second-factor/disable" {
                            (layout::csrf(visitor))
                            div.field {
                                label for="password" { "Your password" }
                                input #password type="password" name="password" autocomplete="current-password"
                                      aria-describedby=[error.map(|_| "password-error")] aria-invalid=[error.map(|_| "true")];
                                @if let Some(e) = error { p.error #password-error { (e) } }
                            }
                            div { button.danger type="submit" { "Turn the second factor off" } }
                        }
                    }
                }
            } @else if let Some(setup) = &state.pending {
                (setup_form(visitor, setup, error))
            } @else {
                p { "A second factor keeps your account safe if your password is ever known: signing in also asks for a six-digit code from an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, 1Password, Aegis and others)." }
                form method="post" action="/portal/second-factor/begin" {
                    (layout::csrf(visitor))
                    button type="submit" { "Set up a second factor" }
                }
            }
        },
    )
}

fn setup_form(visitor: &Visitor, setup: &TotpSetup, error: Option<&str>) -> Markup {
    html! {
        ol.steps {
            li { "Scan this QR code with your authenticator app:" (qr(setup.otpauth_url.expose_secret())) }
            li { "Or type this secret into it (a time-based code, six digits, every 30 seconds): " code #secret { (setup.secret.expose_secret()) } }
            li {
                form.fields method="post" action="/portal/second-factor/confirm" {
                    (layout::csrf(visitor))
                    div.field {
                        label for="code" { "The six-digit code the app shows now" }
                        input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10"
                              aria-describedby=[error.map(|_| "code-error")] aria-invalid=[error.map(|_| "true")];
                        @if let Some(e) = error { p.error #code-error { (e) } }
                    }
                    div { button type="submit" { "Turn the second factor on" } }
                }
            }
        }
    }
}

async fn show(Enrolling(visitor): Enrolling, state: web::Data<AppState>) -> Result<HttpResponse, PortalError> {
    let s = state.store.second_factor_state(visitor.identity.account_id).await?;
    Ok(html(page(&visitor, &s, None, None)))
}

async fn begin(
    req: HttpRequest,
    EnrollingSubmission(sent): EnrollingSubmission,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let visitor = &sent.visitor;
    state.store.begin_totp(visitor.identity.account_id).await?;
    record(&state, &req, visitor, "setup started").await;
    Ok(super::see_other("/portal/second-factor"))
}

async fn confirm(
    req: HttpRequest,
    EnrollingSubmission(sent): EnrollingSubmission,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let visitor = &sent.visitor;
    let code = sent.form.get("code").unwrap_or_default();
    match state.store.confirm_totp(visitor.identity.account_id, code).await {
        Ok(codes) => {
            record(&state, &req, visitor, "on").await;
            Ok(html(recovery_page(visitor, &codes)))
        }
        Err(switchboard_store::StoreError::Invalid(errors)) => {
            let s = state.store.second_factor_state(visitor.identity.account_id).await?;
            let message = errors.first().map_or("is not right", |e| e.message.as_str()).to_owned();
            let message = format!("The code {message}: type the one the app shows now.");
            Ok(html_status(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, page(visitor, &s, Some(&message), None)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The recovery codes, shown this once.
fn recovery_page(visitor: &Visitor, codes: &[SecretString]) -> Markup {
    let mut visitor = visitor.clone();
    visitor.identity.must_set_up_second_factor = false;
    layout::page(
        "Second factor on",
        Some(Frame { visitor: &visitor, tenant: None, current: "second-factor" }),
        html! {
            (layout::notice("Your second factor is on: signing in now asks for a code from your app."))
            div.once {
                p { strong { "Your recovery codes" } " (shown this once). Keep them somewhere safe: each signs you in once in place of a code, if your phone is lost." }
                ul.codes #recovery-codes { @for c in codes { li { code { (c.expose_secret()) } } } }
            }
            p { a href="/portal/" { "Continue to the portal" } }
        },
    )
}

async fn disable(
    req: HttpRequest,
    EnrollingSubmission(sent): EnrollingSubmission,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let visitor = &sent.visitor;
    let password = SecretString::from(sent.form.get("password").unwrap_or_default().to_owned());
    let refusal = match state.store.disable_totp(visitor.identity.account_id, password).await {
        Ok(true) => {
            record(&state, &req, visitor, "off").await;
            let s = state.store.second_factor_state(visitor.identity.account_id).await?;
            return Ok(html(page(visitor, &s, None, Some("Your second factor is off."))));
        }
        Ok(false) => "Your password is not right.".to_owned(),
        Err(e) => ApiError::from(e).detail().to_owned(),
    };
    let s = state.store.second_factor_state(visitor.identity.account_id).await?;
    Ok(html_status(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, page(visitor, &s, Some(&refusal), None)))
}
