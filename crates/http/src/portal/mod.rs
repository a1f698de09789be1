//! The portal: server-rendered pages (maud) for tenant admins and operators, under `/portal/`.
//!
//! Every page is plain HTML that reads without JavaScript; htmx (vendored, embedded with the
//! stylesheet) only makes some actions update in place. The portal calls the same [`Resource`]
//! calls, role rules and validation as the API, so a form's refusal is the API's problem details,
//! shown next to the field they name.
//!
//! [`Resource`]: crate::routes::resource::Resource

mod account;
mod assets;
mod csv_io;
mod deliveries;
mod form;
mod inbox;
mod layout;
mod onboard;
mod pages;
mod records;
mod screens;
mod second_factor;
pub mod session;
mod tenant;
mod tester;
mod usage;

use actix_web::http::{StatusCode, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, ResponseError, web};

use crate::error::ApiError;

/// The Content-Security-Policy of every portal page: nothing inline, nothing from elsewhere, never
/// in a frame.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Why a portal request did not get its page.
#[derive(Debug)]
pub enum PortalError {
    /// Nobody is signed in (or the session ended): sign in, then come back to `next`.
    SignIn { next: String },
    /// The person's tenant requires a second factor they have not set up: set it up first.
    SetUpSecondFactor,
    /// The API's refusal, shown as a page.
    Problem(ApiError),
}

impl From<ApiError> for PortalError {
    fn from(e: ApiError) -> Self {
        Self::Problem(e)
    }
}

impl From<switchboard_store::StoreError> for PortalError {
    fn from(e: switchboard_store::StoreError) -> Self {
        Self::Problem(e.into())
    }
}

impl std::fmt::Display for PortalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn { .. } => f.write_str("sign in first"),
            Self::SetUpSecondFactor => f.write_str("set up a second factor first"),
            Self::Problem(e) => e.fmt(f),
        }
    }
}

impl ResponseError for PortalError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } | Self::SetUpSecondFactor => StatusCode::SEE_OTHER,
            Self::Problem(e) => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn { next } => {
                let to = format!(
                    "/portal/sign-in?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
            }
            Self::SetUpSecondFactor => {
                HttpResponse::SeeOther().insert_header((header::LOCATION, "/portal/second-factor")).finish()
            }
            Self::Problem(e) => {
                let mut res = HttpResponse::build(e.status());
                if let Some(secs) = e.retry_after() {
                    res.insert_header((header::RETRY_AFTER, secs.to_string()));
                }
                res.content_type("text/html; charset=utf-8").body(layout::problem_page(e).into_string())
            }
        }
    }
}

/// Every portal route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/portal", "/portal/")).service(
        web::scope("/portal")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    // Same-origin, so that a form's Origin header names the portal (with
                    // no-referrer, browsers send `Origin: null`).
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add(("cross-origin-opener-policy", "same-origin"))
                    .add(("permissions-policy", "camera=(), microphone=(), geolocation=()")),
            )
            .configure(assets::configure)
            .configure(pages::configure)
            .configure(account::configure)
            .configure(tenant::configure)
            .configure(onboard::configure)
            .configure(tester::configure)
            .configure(csv_io::configure)
            .configure(records::configure)
            .configure(deliveries::configure)
            .configure(usage::configure)
            .configure(inbox::configure)
            .configure(second_factor::configure)
            // Last: a resource item's `{key}` would otherwise take fixed paths such as
            // `contacts/import`.
            .configure(screens::configure)
            .default_service(web::to(not_found)),
    );
}

/// A page.
fn html(markup: maud::Markup) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(markup.into_string())
}

/// A page with another status (a refused form, drawn again).
fn html_status(status: StatusCode, markup: maud::Markup) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(markup.into_string())
}

/// `303 See Other` to `to`.
fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

async fn not_found() -> Result<HttpResponse, PortalError> {
    Err(ApiError::not_found().into())
}
