//! Authentication and the role rules of every route.
//!
//! Four credentials reach the extractors here, all checked on every request:
//! - a bearer JWT minted by `switchboard token` (operators' automation and bootstrap): HS256 only,
//!   `exp` required, good until it expires;
//! - a bearer access token from signing in: a short-lived JWT naming its session (`sid`); the
//!   session is read on every request, so a revoked session, a disabled account or a deleted
//!   extension is refused at once, and the role, tenant and extension come from the account, not
//!   from the token;
//! - the session cookie of a browser, for reads (`GET`, `HEAD`) and renewing the access token only,
//!   so a page of another site cannot make a signed-in browser change anything;
//! - an API key (`sbk_…`) of a tenant, read on every request: it acts as the tenant's admin within
//!   its scopes (`admin`, `send`, `read`), and never manages people, sessions or keys.
//!
//! Another tenant's resources answer `404`, never `403`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
pub use switchboard_core::Role;
use switchboard_core::Scope;
use switchboard_store::accounts::Identity;
use switchboard_store::api_keys::{API_KEY_PREFIX, KeyIdentity};
use switchboard_store::tenants::Tenant;

use crate::AppState;
use crate::error::ApiError;

/// The claims of a Switchboard token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// The session an access token belongs to; none for a CLI-minted token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<uuid::Uuid>,
    /// The tenant's id, in access tokens (a slug can be reused after its tenant is deleted; an id
    /// cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<uuid::Uuid>,
}

/// Signs and verifies tokens with the JWT secret. Its `Debug` shows nothing of the secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the token")]
pub struct SignError;

impl JwtKeys {
    /// Keys from the UTF-8 bytes of the secret.
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        validation.leeway = 30;
        Self { encoding: EncodingKey::from_secret(bytes), decoding: DecodingKey::from_secret(bytes), validation }
    }

    /// Signs `claims` with HS256.
    pub fn sign(&self, claims: &Claims) -> Result<String, SignError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|_| SignError)
    }

    /// Verifies a token and checks that its claims fit its role.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized("The token has expired."),
                ErrorKind::InvalidAlgorithm => ApiError::unauthorized("Only HS256 tokens are accepted."),
                _ => ApiError::unauthorized("The token is not valid."),
            }
        })?;
        let c = data.claims;
        let shaped = match c.role {
            Role::System => c.tenant.is_none() && c.ext.is_none(),
            Role::TenantAdmin => c.tenant.is_some() && c.ext.is_none(),
            Role::Extension => c.tenant.is_some() && c.ext.is_some(),
        };
        if !shaped {
            return Err(ApiError::unauthorized("The token's claims do not fit its role."));
        }
        Ok(c)
    }
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "sb_session";

/// The verified caller of a request: its claims (for a session, as the account stands now) and
/// the session or API key, when the credential is one.
#[derive(Debug, Clone)]
pub struct Principal {
    pub claims: Claims,
    pub session: Option<Identity>,
    pub key: Option<KeyIdentity>,
}

fn insufficient_scope(detail: &str) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "insufficient_scope", detail.to_owned())
}

/// Whether a key with `scopes` may call `method` on the route `pattern`.
fn key_may(scopes: &[Scope], method: &actix_web::http::Method, pattern: &str) -> Result<(), ApiError> {
    use actix_web::http::Method;
    if pattern.starts_with("/api/v1/auth/")
        || pattern.starts_with("/api/v1/operators")
        || pattern.contains("/users")
        || pattern.contains("/api-keys")
    {
        return Err(insufficient_scope("An API key cannot manage people, sessions or API keys; sign in to do that."));
    }
    let reads = matches!(*method, Method::GET | Method::HEAD);
    let sends =
        *method == Method::POST && (pattern == "/api/v1/tenants/{tenant}/messages" || pattern == "/api/v1/messages");
    let allowed = scopes.iter().any(|s| match s {
        Scope::Admin => true,
        Scope::Read => reads,
        Scope::Send => sends,
    });
    if allowed { Ok(()) } else { Err(insufficient_scope("This API key's scopes do not allow this request.")) }
}

pub(crate) fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("An Authorization: Bearer token is required."))?;
    let value = header.to_str().map_err(|_| ApiError::unauthorized("The Authorization header is not readable."))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(ApiError::unauthorized("The Authorization header must be 'Bearer <token>'.")),
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(ApiError::internal)
}

/// A person whose tenant requires a second factor, and who has none yet, may only set one up
/// (and manage their sessions) until they have.
fn second_factor_first(identity: &Identity, pattern: &str) -> Result<(), ApiError> {
    if identity.must_set_up_second_factor && !pattern.starts_with("/api/v1/auth/") {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "second_factor_enrollment_required",
            "This tenant requires a second factor: set one up (POST /api/v1/auth/totp) before anything else.",
        ));
    }
    Ok(())
}

fn session_ended() -> ApiError {
    ApiError::unauthorized("The session has ended (signed out, revoked, expired or its user disabled); sign in again.")
}

/// Claims that speak for a live session's account as it stands now.
pub(crate) fn session_claims(identity: &Identity, exp: u64, iat: Option<u64>) -> Claims {
    Claims {
        sub: identity.account_id.to_string(),
        role: identity.role,
        tenant: identity.tenant.as_ref().map(|(_, slug)| slug.clone()),
        ext: identity.extension.clone(),
        exp,
        iat,
        sid: Some(identity.session_id),
        tid: identity.tenant.as_ref().map(|(id, _)| *id),
    }
}

/// What a request's credential is, before it is checked.
enum Credential {
    Bearer(String),
    Cookie(String),
}

/// The request's credential: its bearer token, else (where `cookie_ok`) its session cookie.
fn credential(req: &HttpRequest, cookie_ok: bool) -> Result<Credential, ApiError> {
    if req.headers().contains_key(actix_web::http::header::AUTHORIZATION) || !cookie_ok {
        return bearer(req).map(|t| Credential::Bearer(t.to_owned()));
    }
    match req.cookie(SESSION_COOKIE) {
        Some(c) => Ok(Credential::Cookie(c.value().to_owned())),
        None => bearer(req).map(|t| Credential::Bearer(t.to_owned())),
    }
}

impl Principal {
    /// Verifies the request's credential. A session cookie counts only where `cookie_ok`.
    pub(crate) fn verify(req: &HttpRequest, cookie_ok: bool) -> impl Future<Output = Result<Self, ApiError>> + 'static {
        let found = credential(req, cookie_ok);
        let st = state(req);
        let method = req.method().clone();
        let pattern = req.match_pattern().unwrap_or_default();
        async move {
            let st = st?;
            let now = chrono::Utc::now().timestamp().max(0).cast_unsigned();
            match found? {
                Credential::Bearer(token) if token.starts_with(API_KEY_PREFIX) => {
                    let key = st
                        .store
                        .api_key_identity(&token)
                        .await?
                        .ok_or_else(|| ApiError::unauthorized("The API key is not valid (unknown or revoked)."))?;
                    key_may(&key.scopes, &method, &pattern)?;
                    let claims = Claims {
                        sub: format!("key:{}", key.key_id),
                        role: Role::TenantAdmin,
                        tenant: Some(key.tenant_slug.clone()),
                        ext: None,
                        exp: now + 60,
                        iat: Some(now),
                        sid: None,
                        tid: Some(key.tenant_id),
                    };
                    Ok(Self { claims, session: None, key: Some(key) })
                }
                Credential::Bearer(token) => {
                    let claims = st.jwt.verify(&token)?;
                    let Some(sid) = claims.sid else { return Ok(Self { claims, session: None, key: None }) };
                    let identity = st.store.session_identity(sid).await?.ok_or_else(session_ended)?;
                    second_factor_first(&identity, &pattern)?;
                    let claims = session_claims(&identity, claims.exp, claims.iat);
                    Ok(Self { claims, session: Some(identity), key: None })
                }
                Credential::Cookie(secret) => {
                    let identity = st.store.session_by_secret(&secret).await?.ok_or_else(session_ended)?;
                    second_factor_first(&identity, &pattern)?;
                    Ok(Self { claims: session_claims(&identity, now, Some(now)), session: Some(identity), key: None })
                }
            }
        }
    }
}

/// The credential's verdict, reached by [`authenticate`] before any extractor ran.
struct Verified(Result<Principal, ApiError>);

/// Verifies the credential a request carries, if any, before routing reaches its handler, and
/// keeps the verdict for the extractors. A handler's extractors run together, so without this a
/// body refused as malformed (`400`, `422`) could answer before a credential refused as invalid
/// (`401`) — telling a caller without a valid credential about the route's shape. A request with
/// no credential is refused by the extractors at once, so it needs nothing here; public routes
/// ignore the verdict.
pub async fn authenticate(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let has_credential =
        req.headers().contains_key(actix_web::http::header::AUTHORIZATION) || req.cookie(SESSION_COOKIE).is_some();
    if has_credential {
        let verdict = Principal::verify(req.request(), reads_only(req.request())).await;
        if let Ok(p) = &verdict {
            req.extensions_mut().insert(crate::audit::Actor::of(p));
        }
        req.extensions_mut().insert(Verified(verdict));
    }
    next.call(req).await
}

/// The request's principal: the verdict [`authenticate`] reached, else verified now.
fn principal(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Principal, ApiError>>>> {
    if let Some(Verified(verdict)) = req.extensions_mut().remove::<Verified>() {
        return Box::pin(std::future::ready(verdict));
    }
    Box::pin(Principal::verify(req, reads_only(req)))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        principal(req)
    }
}

/// True for a request that only reads (`GET`, `HEAD`).
fn reads_only(req: &HttpRequest) -> bool {
    matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD)
}

/// A tenant's token names it by slug, and a slug is freed when its tenant is deleted: a token is
/// good only for the tenant that existed when it was issued, so it must say when (`iat`), and not
/// before the tenant was created (to the second). A token of a deleted tenant does not open a new
/// tenant given the same slug.
fn issued_for(claims: &Claims, tenant: &Tenant) -> Result<(), ApiError> {
    let Some(iat) = claims.iat else {
        return Err(ApiError::unauthorized("The token does not say when it was issued (iat); issue a new one."));
    };
    if i64::try_from(iat).unwrap_or(i64::MAX) < tenant.created_at.timestamp() {
        return Err(ApiError::unauthorized("The token was issued before its tenant was created; issue a new one."));
    }
    Ok(())
}

/// A suspended tenant may read, nothing else (but for the system administrator, who suspended it).
fn refuse_if_suspended(tenant: &Tenant) -> Result<(), ApiError> {
    if tenant.status == switchboard_store::tenants::TenantStatus::Suspended {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "tenant_suspended",
            "This tenant is suspended: it may read, but not send or change anything.",
        ));
    }
    Ok(())
}

/// `403 extension_disabled`: a disabled extension's token opens nothing.
pub fn extension_disabled() -> ApiError {
    ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "extension_disabled", "This extension is disabled.")
}

/// The system administrator; any other role is `403`.
#[derive(Debug, Clone)]
pub struct SystemAdmin(pub Claims);

impl FromRequest for SystemAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal(req);
        Box::pin(async move {
            let p = principal.await?;
            match p.claims.role {
                Role::System => Ok(Self(p.claims)),
                _ => Err(ApiError::forbidden()),
            }
        })
    }
}

/// The tenant named by the `{tenant}` path segment, reached by its own tenant admin or the
/// system administrator. Another tenant's admin or extension gets `404`; an extension of this
/// tenant gets `403`.
#[derive(Debug, Clone)]
pub struct TenantScope {
    pub tenant: Tenant,
    pub claims: Claims,
    /// Whether the credential is a token minted with `switchboard token` (no session, no API key):
    /// whoever minted it holds the server's keys, so it acts for the operator whatever its role.
    pub minted: bool,
}

impl TenantScope {
    /// True for the system administrator.
    pub fn is_system(&self) -> bool {
        self.claims.role == Role::System
    }

    /// True for the operator: the system administrator, or any token the operator minted.
    pub fn is_operator(&self) -> bool {
        self.is_system() || self.minted
    }
}

impl FromRequest for TenantScope {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let read_only = reads_only(req);
        let principal = principal(req);
        let slug = req.match_info().get("tenant").map(str::to_owned);
        let st = state(req);
        Box::pin(async move {
            let principal = principal.await?;
            let minted = principal.session.is_none() && principal.key.is_none();
            let slug = slug.ok_or_else(ApiError::not_found)?;
            Self::resolve(&st?.store, principal.claims, minted, &slug, read_only).await
        })
    }
}

impl TenantScope {
    /// The tenant `slug` as `claims` may reach it, by the rules above: for a read, or for a write
    /// (`read_only` false), which a suspended tenant's people may not make.
    pub(crate) async fn resolve(
        store: &switchboard_store::Store,
        claims: Claims,
        minted: bool,
        slug: &str,
        read_only: bool,
    ) -> Result<Self, ApiError> {
        let own = claims.tenant.as_deref() == Some(slug);
        match claims.role {
            Role::System => {}
            Role::TenantAdmin if own => {}
            Role::Extension if own => return Err(ApiError::forbidden()),
            _ => return Err(ApiError::not_found()),
        }
        let tenant = store.tenant_by_slug(slug).await?;
        if claims.role != Role::System {
            issued_for(&claims, &tenant)?;
        }
        if claims.role != Role::System && !read_only {
            refuse_if_suspended(&tenant)?;
        }
        Ok(Self { tenant, claims, minted })
    }
}

/// The caller of the extension API: an extension (sees its own texts) or a tenant admin (sees the
/// whole tenant). The system administrator has no tenant here: `403`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    /// The extension, for the extension role.
    pub ext: Option<String>,
}

impl Caller {
    /// The store's view for this caller.
    pub fn viewer(&self) -> switchboard_store::inbox::Viewer<'_> {
        match &self.ext {
            Some(e) => switchboard_store::inbox::Viewer::Extension(e),
            None => switchboard_store::inbox::Viewer::Tenant,
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let read_only = reads_only(req);
        let principal = principal(req);
        let st = state(req);
        Box::pin(async move {
            let claims = principal.await?.claims;
            Self::resolve(&st?.store, claims, read_only).await
        })
    }
}

impl Caller {
    /// The caller `claims` speak for, by the rules above: for a read, or for a write (`read_only`
    /// false), which a suspended tenant's people may not make.
    pub(crate) async fn resolve(
        store: &switchboard_store::Store,
        claims: Claims,
        read_only: bool,
    ) -> Result<Self, ApiError> {
        let slug = match (claims.role, &claims.tenant) {
            (Role::System, _) | (_, None) => return Err(ApiError::forbidden()),
            (_, Some(slug)) => slug.clone(),
        };
        let tenant = match store.tenant_by_slug(&slug).await {
            Err(switchboard_store::StoreError::NotFound) => {
                return Err(ApiError::unauthorized("The token's tenant no longer exists."));
            }
            other => other?,
        };
        issued_for(&claims, &tenant)?;
        if let Some(ext) = &claims.ext {
            match store.get_extension(tenant.id, ext).await {
                Err(switchboard_store::StoreError::NotFound) => {
                    return Err(ApiError::unauthorized("The token's extension no longer exists."));
                }
                Ok(found) if !found.enabled => return Err(extension_disabled()),
                other => other?,
            };
        }
        if !read_only {
            refuse_if_suspended(&tenant)?;
        }
        Ok(Self { tenant, ext: claims.ext })
    }
}
