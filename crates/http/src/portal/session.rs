//! Who is using the portal, and whether a form really came from the portal.
//!
//! A page is read with the session cookie the API's sign-in sets (`HttpOnly`, `SameSite=Strict`).
//! A form is accepted only when both hold:
//! - its `csrf` field (or, from htmx, its `X-CSRF-Token` header) is the session's token: a hash of
//!   the session's secret, which no other site can read or compute;
//! - its `Origin` (else its `Referer`) is the portal's own site.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use switchboard_core::Role;
use switchboard_store::accounts::Identity;

use super::PortalError;
use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE, TenantScope, session_claims};
use crate::error::ApiError;

/// Largest form the portal takes.
pub const MAX_FORM: usize = 256 * 1024;

/// The name of the form field, and of the htmx header, that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in person reading a portal page.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub identity: Identity,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Visitor {
    /// True for an operator (the system role).
    pub fn is_operator(&self) -> bool {
        self.identity.role == Role::System
    }

    /// The tenant `slug` as this person may reach it: their own (a tenant admin), any (an
    /// operator); another tenant's is `404`, like the API's.
    pub async fn scope(&self, state: &AppState, slug: &str, read_only: bool) -> Result<TenantScope, ApiError> {
        let now = chrono::Utc::now().timestamp().max(0).cast_unsigned();
        let claims = session_claims(&self.identity, now, Some(now));
        TenantScope::resolve(&state.store, claims, false, slug, read_only).await
    }

    /// This person as the extension API sees them: their tenant and, for an extension user, their
    /// extension (a disabled one is refused); an operator, who has no tenant, is `404` here.
    pub async fn caller(&self, state: &AppState, read_only: bool) -> Result<Caller, ApiError> {
        if self.is_operator() {
            return Err(ApiError::not_found());
        }
        let now = chrono::Utc::now().timestamp().max(0).cast_unsigned();
        Caller::resolve(&state.store, session_claims(&self.identity, now, Some(now)), read_only).await
    }

    /// The tenant the request's `{tenant}` names, as this person may reach it (see [`Self::scope`]).
    pub async fn tenant(&self, state: &AppState, req: &HttpRequest, read_only: bool) -> Result<TenantScope, ApiError> {
        let slug = req.match_info().get("tenant").ok_or_else(ApiError::not_found)?;
        self.scope(state, slug, read_only).await
    }
}

/// The CSRF token of a session: SHA-256 of a label and the session's secret, hex.
fn csrf_token(secret: &str) -> String {
    let digest = Sha256::new().chain_update(b"switchboard portal csrf\0").chain_update(secret.as_bytes()).finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PortalError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| PortalError::Problem(ApiError::internal()))
}

/// Where to come back to after signing in: this page, when it is one that can be read again.
fn here(req: &HttpRequest) -> String {
    if *req.method() == actix_web::http::Method::GET { req.uri().to_string() } else { "/portal/".to_owned() }
}

async fn visitor(req: &HttpRequest) -> Result<(Visitor, String), PortalError> {
    let (visitor, secret) = enrolling_visitor(req).await?;
    if visitor.identity.must_set_up_second_factor {
        return Err(PortalError::SetUpSecondFactor);
    }
    Ok((visitor, secret))
}

/// The signed-in person, including one whose tenant requires a second factor they have not set
/// up yet (who may only set it up).
async fn enrolling_visitor(req: &HttpRequest) -> Result<(Visitor, String), PortalError> {
    let st = state(req)?;
    let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Err(PortalError::SignIn { next: here(req) });
    };
    let identity = st.store.session_by_secret(&secret).await.map_err(ApiError::from)?;
    let Some(identity) = identity else { return Err(PortalError::SignIn { next: here(req) }) };
    let csrf = csrf_token(&secret);
    Ok((Visitor { identity, csrf }, secret))
}

impl FromRequest for Visitor {
    type Error = PortalError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PortalError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { visitor(&req).await.map(|(v, _)| v) })
    }
}

/// The fields of a submitted form, in order, as sent.
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
    }

    /// Every value of `name`, trimmed, blanks left out.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect()
    }

    /// Reads an `application/x-www-form-urlencoded` body (bytes that are not UTF-8 become U+FFFD).
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
}

/// Refuses a form whose token is not the session's.
fn check_token(sent: &str, secret: &str) -> Result<(), ApiError> {
    if same_token(sent, &csrf_token(secret)) {
        Ok(())
    } else {
        Err(csrf_refused(
            "This form's security token is missing or out of date (signed in again since?); reload the page and send it again.",
        ))
    }
}

/// The person who sent a form whose body is read by its handler (a file upload), once its
/// origin and CSRF token (`sent`) are checked.
pub async fn uploader(req: &HttpRequest, sent: &str) -> Result<Visitor, PortalError> {
    let (visitor, secret) = visitor(req).await?;
    check_origin(req, &state(req)?.public_url)?;
    check_token(sent, &secret)?;
    Ok(visitor)
}

/// A form a signed-in person submitted, its CSRF token and origin checked.
#[derive(Debug)]
pub struct Submission {
    pub visitor: Visitor,
    pub form: FormData,
}

/// A signed-in person on the page that sets up a second factor: also one whose tenant requires
/// one they have not set up yet.
#[derive(Debug)]
pub struct Enrolling(pub Visitor);

/// A form sent from the second-factor page (see [`Enrolling`]), its CSRF token and origin checked.
#[derive(Debug)]
pub struct EnrollingSubmission(pub Submission);

impl FromRequest for Enrolling {
    type Error = PortalError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PortalError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { enrolling_visitor(&req).await.map(|(v, _)| Self(v)) })
    }
}

impl FromRequest for EnrollingSubmission {
    type Error = PortalError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PortalError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move { submission(req, payload, true).await.map(Self) })
    }
}

/// Reads a submitted form and checks who sent it, from where, with which token.
async fn submission(req: HttpRequest, mut payload: Payload, enrolling: bool) -> Result<Submission, PortalError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::malformed("The form could not be read."))?;
        if body.len() + chunk.len() > MAX_FORM {
            return Err(ApiError::too_large(MAX_FORM).into());
        }
        body.extend_from_slice(&chunk);
    }
    let (visitor, secret) = if enrolling { enrolling_visitor(&req).await? } else { visitor(&req).await? };
    let st = state(&req)?;
    check_origin(&req, &st.public_url)?;
    let form = FormData::parse(&body);
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form.get(CSRF_FIELD).map(str::to_owned))
        .unwrap_or_default();
    check_token(&sent, &secret)?;
    Ok(Submission { visitor, form })
}

/// `403 csrf_refused`.
pub fn csrf_refused(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "csrf_refused", detail.to_owned())
}

/// The portal's own origin as the browser names it: the request's scheme and host.
fn own_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// Refuses a write whose `Origin` (else `Referer`) is not the portal's own site.
pub fn check_origin(req: &HttpRequest, public_url: &str) -> Result<(), ApiError> {
    let own = own_origin(req);
    let public = url_origin(public_url);
    let allowed = |origin: &str| origin == own || Some(origin) == public.as_deref();
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header(header::ORIGIN) {
        return if allowed(origin) {
            Ok(())
        } else {
            Err(csrf_refused("This form was sent from another site; use the portal's own pages."))
        };
    }
    match header(header::REFERER).and_then(url_origin) {
        Some(origin) if allowed(&origin) => Ok(()),
        _ => Err(csrf_refused("The browser did not say where this form came from, so it is refused.")),
    }
}

/// `scheme://host[:port]` of a URL.
fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

impl FromRequest for Submission {
    type Error = PortalError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PortalError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(submission(req, payload, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_like_browsers_send_them() {
        let form = FormData::parse(b"a=1&b=x+y%21&c=&d=+2+&d=&d=3&e=%C3%A9");
        assert_eq!(form.get("b"), Some("x y!"));
        assert_eq!(form.get("c"), Some(""));
        assert_eq!(form.all("d"), vec!["2", "3"]);
        assert_eq!(form.get("e"), Some("é"));
        assert_eq!(form.get("missing"), None);
    }

    #[test]
    fn tokens_differ_per_session_and_compare_exactly() {
        let a = csrf_token("sbs_one");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_token("sbs_two"));
        assert!(same_token(&a, &csrf_token("sbs_one")));
        assert!(!same_token(&a, &a[..63]));
        assert!(!same_token(&a, ""));
    }

    #[test]
    fn origins_are_scheme_and_host() {
        assert_eq!(url_origin("https://Sms.Example.net/portal/x?y").as_deref(), Some("https://sms.example.net"));
        assert_eq!(url_origin("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(url_origin("nonsense"), None);
    }
}
