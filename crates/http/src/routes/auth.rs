//! `/api/v1/auth`: signing in and out, renewing the access token, and the caller's sessions.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use secrecy::{ExposeSecret, SecretString};
use switchboard_store::accounts::{Identity, SessionOrigin, SignIn, StartedSession};

use super::path_id;
use crate::AppState;
use crate::api::auth::{
    AcceptInvitation, AccessToken, ChangePassword, ConfirmTotp, DisableTotp, Login, Me, RecoveryCodes, Session,
    TotpSetup,
};
use crate::auth::{Principal, SESSION_COOKIE, session_claims};
use crate::body::Json;
use crate::error::{ApiError, Problem};

/// How long an access token lasts; a client renews it from its session.
pub const ACCESS_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login)
        .service(renew)
        .service(logout)
        .service(sessions)
        .service(revoke)
        .service(accept_invitation)
        .service(change_password)
        .service(begin_totp)
        .service(confirm_totp)
        .service(disable_totp);
}

fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "The email or password is not right.")
}

fn no_session() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "no_session",
        "This credential has no session: a token from `switchboard token` ends only when it expires.",
    )
}

fn access_token(state: &AppState, identity: &Identity) -> Result<AccessToken, ApiError> {
    let now = chrono::Utc::now().timestamp().max(0).cast_unsigned();
    let claims = session_claims(identity, now + ACCESS_TOKEN_TTL.as_secs(), Some(now));
    let token = state.jwt.sign(&claims).map_err(|_| ApiError::internal())?;
    Ok(AccessToken {
        access_token: token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        session_id: identity.session_id,
        session_expires_at: identity.session_expires_at,
        account: Me::from(identity),
    })
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure when Switchboard is served over https.
fn session_cookie<'a>(state: &AppState, value: &'a str, max_age: actix_web::cookie::time::Duration) -> Cookie<'a> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .max_age(max_age)
        .finish()
}

/// Signs in with an email and password. The answer is the same for an unknown email, a wrong
/// password and a disabled account, and costs the same time.
#[utoipa::path(tag = "auth", request_body = Login,
    responses((status = 200, body = AccessToken, description = "signed in; the session cookie is set too"),
        (status = 401, body = Problem, description = "invalid_credentials, second_factor_required or second_factor_invalid"), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "too_many_attempts, with Retry-After")))]
#[post("/api/v1/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    Json(body): Json<Login>,
) -> Result<HttpResponse, ApiError> {
    let started =
        start_session(&state, &req, &body.email, SecretString::from(body.password), body.code.as_deref()).await?;
    let answer = access_token(&state, &started.identity)?;
    Ok(HttpResponse::Ok().cookie(signed_in_cookie(&state, &started)).json(answer))
}

/// Signs a person in (for the API and the portal alike), recording it in the audit log; a refusal
/// is the API's error for it.
pub(crate) async fn start_session(
    state: &AppState,
    req: &HttpRequest,
    email: &str,
    password: SecretString,
    code: Option<&str>,
) -> Result<StartedSession, ApiError> {
    let client = state.clients.of(req);
    let origin = SessionOrigin {
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        address: client.map(|ip| ip.to_string()),
        address_key: client.map(|ip| switchboard_core::sources::source_key(ip).to_string()),
    };
    let started = match state.store.sign_in(email, password, code, origin, state.sign_in).await? {
        SignIn::Started(s) => s,
        SignIn::Refused => return Err(invalid_credentials()),
        SignIn::SecondFactorRequired => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "second_factor_required",
                "This account uses a second factor: sign in again with `code`, the authenticator's current code or a recovery code.",
            ));
        }
        SignIn::SecondFactorRefused => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "second_factor_invalid",
                "The code is not right, or was used already.",
            ));
        }
        SignIn::Throttled(wait) => {
            return Err(ApiError::rate_limited(
                "Too many refused sign-ins for this account or from this address; try again later.",
                wait,
            )
            .with_code("too_many_attempts"));
        }
    };
    let identity = &started.identity;
    let tenant = identity.tenant.as_ref().map(|(id, _)| *id);
    crate::audit::record_own(state, req, identity.account_id, Some(identity.session_id), tenant, 200).await;
    Ok(started)
}

/// The session cookie of a session just started.
pub(crate) fn signed_in_cookie<'a>(state: &AppState, started: &'a StartedSession) -> Cookie<'a> {
    let max_age = actix_web::cookie::time::Duration::seconds(state.sign_in.session_ttl.as_secs().cast_signed());
    session_cookie(state, started.secret.expose_secret(), max_age)
}

/// A cookie that clears the session cookie.
pub(crate) fn cleared_cookie(state: &AppState) -> Cookie<'static> {
    session_cookie(state, "", actix_web::cookie::time::Duration::ZERO)
}

/// A new access token from the caller's session (its cookie, or an access token not yet expired).
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = AccessToken), (status = 400, body = Problem, description = "no_session"),
        (status = 401, body = Problem)))]
#[post("/api/v1/auth/token")]
pub async fn renew(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = Principal::verify(&req, true).await?;
    let identity = principal.session.ok_or_else(no_session)?;
    Ok(HttpResponse::Ok().json(access_token(&state, &identity)?))
}

/// Signs out: ends the caller's session (every access token from it is refused from now on) and
/// clears the cookie.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 400, body = Problem, description = "no_session"), (status = 401, body = Problem)))]
#[post("/api/v1/auth/logout")]
pub async fn logout(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = Principal::verify(&req, true).await?;
    let identity = principal.session.ok_or_else(no_session)?;
    state.store.end_session(identity.session_id).await?;
    Ok(HttpResponse::NoContent().cookie(cleared_cookie(&state)).finish())
}

/// The caller's live sessions, newest first; `current` marks this one.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<Session>), (status = 400, body = Problem, description = "no_session"),
        (status = 401, body = Problem)))]
#[get("/api/v1/auth/sessions")]
pub async fn sessions(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let identity = principal.session.ok_or_else(no_session)?;
    Ok(HttpResponse::Ok().json(own_sessions(&state, &identity).await?))
}

/// A person's live sessions, newest first, this one marked (for the API and the portal).
pub(crate) async fn own_sessions(state: &AppState, identity: &Identity) -> Result<Vec<Session>, ApiError> {
    let list = state.store.list_sessions(identity.account_id).await?;
    Ok(list.into_iter().map(|s| Session::of(s, Some(identity.session_id))).collect())
}

/// Revokes one of the caller's sessions; its access tokens are refused from the next request.
/// Another account's session is `404`.
#[utoipa::path(tag = "auth", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 400, body = Problem, description = "no_session"), (status = 404, body = Problem)))]
#[delete("/api/v1/auth/sessions/{id}")]
pub async fn revoke(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let identity = principal.session.ok_or_else(no_session)?;
    state.store.revoke_session(identity.account_id, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accepts an invitation: sets the user's password (the token is spent). Then sign in. An unknown,
/// spent, replaced or expired token, or a disabled user's, is `404`.
#[utoipa::path(tag = "auth", request_body = AcceptInvitation,
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/auth/invitations/accept")]
pub async fn accept_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    Json(body): Json<AcceptInvitation>,
) -> Result<HttpResponse, ApiError> {
    accept(&state, &req, &body.token, SecretString::from(body.password)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accepts an invitation (for the API and the portal), recording it in the audit log.
pub(crate) async fn accept(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    password: SecretString,
) -> Result<(), ApiError> {
    match state.store.accept_invitation(token, password).await {
        Err(switchboard_store::StoreError::NotFound) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "No such invitation: it was used, replaced or has expired. Ask your admin for a new one.",
        )),
        Err(e) => Err(e.into()),
        Ok(account) => {
            crate::audit::record_own(state, req, account.id, None, account.tenant_id, 204).await;
            Ok(())
        }
    }
}

/// Changes the caller's password, given the current one; every other session of theirs ends.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = ChangePassword,
    responses((status = 204), (status = 400, body = Problem, description = "no_session"),
        (status = 401, body = Problem), (status = 422, body = Problem, description = "validation_failed: a wrong current_password, or a new_password the policy refuses")))]
#[post("/api/v1/auth/password")]
pub async fn change_password(
    principal: Principal,
    state: web::Data<AppState>,
    Json(body): Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let identity = principal.session.ok_or_else(no_session)?;
    let changed = state
        .store
        .change_password(
            identity.account_id,
            identity.session_id,
            SecretString::from(body.current_password),
            SecretString::from(body.new_password),
        )
        .await?;
    match changed {
        switchboard_store::users::PasswordChange::Changed => Ok(HttpResponse::NoContent().finish()),
        switchboard_store::users::PasswordChange::WrongPassword => {
            Err(ApiError::invalid(vec![switchboard_core::FieldError {
                field: "current_password".into(),
                message: "is not right".into(),
            }]))
        }
    }
}

/// Starts setting up a second factor (TOTP) for the caller: the secret for an authenticator app.
/// Nothing changes until a code from it is confirmed. An account with one already is `409`.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = TotpSetup), (status = 400, body = Problem, description = "no_session"),
        (status = 409, body = Problem)))]
#[post("/api/v1/auth/totp")]
pub async fn begin_totp(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let identity = principal.session.ok_or_else(no_session)?;
    let setup = state.store.begin_totp(identity.account_id).await?;
    Ok(HttpResponse::Ok().json(TotpSetup {
        secret: setup.secret.expose_secret().to_owned(),
        otpauth_url: setup.otpauth_url.expose_secret().to_owned(),
    }))
}

/// Turns the second factor on with the authenticator's current code; answers ten recovery codes,
/// shown only here. From now on signing in needs a code.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = ConfirmTotp,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = Problem, description = "no_session"),
        (status = 422, body = Problem, description = "a wrong code, or no_totp_setup")))]
#[post("/api/v1/auth/totp/confirm")]
pub async fn confirm_totp(
    principal: Principal,
    state: web::Data<AppState>,
    Json(body): Json<ConfirmTotp>,
) -> Result<HttpResponse, ApiError> {
    let identity = principal.session.ok_or_else(no_session)?;
    let codes = state.store.confirm_totp(identity.account_id, &body.code).await?;
    Ok(HttpResponse::Ok()
        .json(RecoveryCodes { recovery_codes: codes.iter().map(|c| c.expose_secret().to_owned()).collect() }))
}

/// Turns the second factor off, given the password; refused while the tenant requires one.
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = DisableTotp,
    responses((status = 204), (status = 400, body = Problem, description = "no_session"),
        (status = 422, body = Problem, description = "a wrong password, or second_factor_required by the tenant")))]
#[post("/api/v1/auth/totp/disable")]
pub async fn disable_totp(
    principal: Principal,
    state: web::Data<AppState>,
    Json(body): Json<DisableTotp>,
) -> Result<HttpResponse, ApiError> {
    let identity = principal.session.ok_or_else(no_session)?;
    if state.store.disable_totp(identity.account_id, SecretString::from(body.password)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::invalid(vec![switchboard_core::FieldError {
            field: "password".into(),
            message: "is not right".into(),
        }]))
    }
}
