//! `/api/v1/tenants/{tenant}/providers`: connected Flowroute accounts. Keys are tried when they are
//! given (a provider is created, or its keys or endpoint change): keys Flowroute refuses are `422`;
//! a Flowroute that cannot be asked does not stop the change, and the provider shows why.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use secrecy::SecretString;
use serde::Deserialize;
use switchboard_core::status::ConnectionStatus;
use switchboard_core::{E164, FieldErrors};
use switchboard_engine::onboard::{NUMBERS_PAGE, OnboardError, ProviderError, credentials, credentials_of};
use switchboard_store::numbers::Import;
use switchboard_store::providers::{self as store, ConnectionCheck, FLOWROUTE_ENDPOINT};
use switchboard_store::{PageRequest, StoreError};
use uuid::Uuid;

use super::path_id;
use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::Page;
use crate::api::providers::{
    ApplyCallbacks, CallbackDestination, CallbackResults, Connection, EnableMessaging, ImportNumbers, ImportResult,
    MessagingResult, NewProvider, Provider, ProviderPatch, RemoteNumber, RemoteNumbers,
};
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::{ApiError, Problem};

/// The most numbers one account may hold for an import of all of them.
const IMPORT_MAX: usize = 10_000;

/// How long listing a whole account may take.
const LIST_TIME: Duration = Duration::from_secs(60);

/// A listing of the account, within [`LIST_TIME`], or this API's answer for why not.
async fn listed<T>(call: impl std::future::Future<Output = Result<T, ProviderError>>) -> Result<T, ApiError> {
    match tokio::time::timeout(LIST_TIME, call).await {
        Ok(answer) => answer.map_err(upstream),
        Err(_) => Err(upstream(ProviderError::Unreachable("no answer in time".into()))),
    }
}

/// An account call that did not succeed, as this API's answer: Flowroute refusing the keys or
/// erring is `502`, Flowroute out of reach or limiting is `503`.
fn upstream(e: ProviderError) -> ApiError {
    use switchboard_engine::onboard::ProviderError as Fr;
    match e {
        Fr::Unauthorized(d) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_bad_credentials",
            format!("Flowroute refused this provider's keys ({d}); correct them on the provider."),
        ),
        e @ (Fr::Unreachable(_) | Fr::Unavailable { .. } | Fr::RateLimited { .. }) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "provider_unreachable", format!("{e}; try again later."))
        }
        e @ (Fr::NotFound(_) | Fr::Refused { .. }) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", format!("{e}."))
        }
    }
}

fn onboard(e: OnboardError) -> ApiError {
    match e {
        OnboardError::Store(e) => e.into(),
        OnboardError::Provider(e) => upstream(e),
        e @ OnboardError::SharedIngressOff => ApiError::from(StoreError::invalid("to", e.to_string())),
    }
}

/// The `providers` resource.
pub struct Providers;

/// Refuses keys Flowroute refused, naming both fields.
fn refuse_bad_keys(check: &ConnectionCheck) -> Result<(), ApiError> {
    if check.status != ConnectionStatus::BadCredentials {
        return Ok(());
    }
    let why = check.detail.clone().unwrap_or_else(|| "Flowroute refused the keys".into());
    let mut errors = FieldErrors::new();
    errors.add("access_key", format!("{why} (check the access key and the secret key)"));
    errors.add("secret_key", why);
    Err(StoreError::Invalid(errors.into_vec()).into())
}

impl Resource for Providers {
    const COLLECTION: &'static str = "providers";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Connects a provider account: the keys are tried with a read-only call first (keys Flowroute refuses are `422`; a Flowroute that cannot be reached is recorded in `connection`); `secret_key` is sealed at rest and never returned.",
        list: "Lists the tenant's providers.",
        get: "Reads a provider, with the last check of its keys.",
        update: "Changes a provider; new keys or a new endpoint are tried first, like a new provider's. A new `secret_key` replaces the old one.",
        delete: "Deletes a provider that no prefix or number uses.",
    };

    type Key = Uuid;
    type New = NewProvider;
    type Patch = ProviderPatch;
    type Item = Provider;

    async fn create(state: &AppState, scope: &TenantScope, new: NewProvider) -> Result<Provider, ApiError> {
        let tenant = scope.tenant.id;
        let new: store::NewProvider = new.into();
        store::validate_new(&new)?;
        let endpoint = new.endpoint.as_deref().unwrap_or(FLOWROUTE_ENDPOINT);
        let creds = credentials_of(&new.access_key, SecretString::from(new.secret_key.clone()));
        let found = state.engine.check_connection(endpoint, &creds).await;
        refuse_bad_keys(&found)?;
        Ok(state.store.create_provider(tenant, new, Some(found)).await?.into())
    }

    async fn list(state: &AppState, tenant: Uuid, page: PageRequest) -> Result<Page<Provider>, ApiError> {
        Ok(state.store.list_providers(tenant, page).await?.into())
    }

    async fn get(state: &AppState, tenant: Uuid, key: Uuid) -> Result<Provider, ApiError> {
        Ok(state.store.get_provider(tenant, key).await?.into())
    }

    async fn update(
        state: &AppState,
        scope: &TenantScope,
        key: Uuid,
        patch: ProviderPatch,
    ) -> Result<Provider, ApiError> {
        let tenant = scope.tenant.id;
        let patch: store::ProviderPatch = patch.into();
        store::validate_patch(&patch)?;
        let mut tried = None;
        if patch.access_key.is_some() || patch.secret_key.is_some() || patch.endpoint.is_some() {
            let current = state.store.provider_access(tenant, key).await?;
            let endpoint = patch.endpoint.clone().unwrap_or_else(|| current.endpoint.clone());
            let secret = match &patch.secret_key {
                Some(given) => Some(SecretString::from(given.clone())),
                // The stored secret is never sent to another host (the store refuses the change).
                None if endpoint == current.endpoint => Some(current.secret_key.clone()),
                None => None,
            };
            if let Some(secret) = secret {
                let access_key = patch.access_key.as_deref().unwrap_or(&current.access_key);
                let found = state.engine.check_connection(&endpoint, &credentials_of(access_key, secret)).await;
                refuse_bad_keys(&found)?;
                tried = Some(found);
            }
        }
        Ok(state.store.update_provider(tenant, key, patch, tried).await?.into())
    }

    async fn delete(state: &AppState, tenant: Uuid, key: Uuid) -> Result<(), ApiError> {
        Ok(state.store.delete_provider(tenant, key).await?)
    }
}

/// Tries the provider's keys now with a read-only call to Flowroute, and keeps the result on the
/// provider: `ok`, `bad_credentials` or `unreachable`, with Flowroute's words and the time.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = Connection), (status = 404, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers/{id}/check")]
pub async fn check_keys(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let provider = check_provider(&state, scope.tenant.id, path_id(&path.1)?).await?;
    let connection = provider.connection.ok_or_else(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(connection))
}

/// Tries a provider's keys now and keeps the result on it (for the API and the portal).
pub(crate) async fn check_provider(state: &AppState, tenant: Uuid, id: Uuid) -> Result<Provider, ApiError> {
    let access = state.store.provider_access(tenant, id).await?;
    let found = state.engine.check_connection(&access.endpoint, &credentials(&access)).await;
    Ok(state.store.record_provider_check(tenant, id, found).await?.into())
}

/// Query of `GET …/providers/{id}/remote-numbers`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoteQuery {
    /// Numbers per page, 1 to 200 (default 200).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// How many to pass over: `next_offset` of the previous page.
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

/// Lists the numbers the provider's Flowroute account holds, page by page, with whether each is
/// in Switchboard for this tenant and whether texting is enabled on it.
#[utoipa::path(tag = "providers", security(("bearer" = [])),
    params(("tenant" = String, Path), ("id" = Uuid, Path), RemoteQuery),
    responses((status = 200, body = RemoteNumbers), (status = 404, body = Problem), (status = 502, body = Problem),
              (status = 503, body = Problem)))]
#[get("/api/v1/tenants/{tenant}/providers/{id}/remote-numbers")]
pub async fn remote_numbers(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: web::Query<RemoteQuery>,
) -> Result<HttpResponse, ApiError> {
    let listed =
        remote_page(&state, scope.tenant.id, path_id(&path.1)?, q.limit.as_deref(), q.offset.as_deref()).await?;
    Ok(HttpResponse::Ok().json(listed))
}

/// A page of the numbers the provider's account holds (for the API and the portal).
pub(crate) async fn remote_page(
    state: &AppState,
    tenant: Uuid,
    provider: Uuid,
    limit: Option<&str>,
    offset: Option<&str>,
) -> Result<RemoteNumbers, ApiError> {
    let limit = match limit.map(str::parse::<u32>) {
        None => NUMBERS_PAGE,
        Some(Ok(n)) if (1..=NUMBERS_PAGE).contains(&n) => n,
        Some(_) => return Err(ApiError::from(StoreError::invalid("limit", "must be a whole number from 1 to 200"))),
    };
    let Ok(offset) = offset.unwrap_or("0").parse::<u64>() else {
        return Err(ApiError::from(StoreError::invalid("offset", "must be a whole number")));
    };
    let access = state.store.provider_access(tenant, provider).await?;
    let creds = credentials(&access);
    let account = state.engine.account(&access.endpoint, &creds).map_err(upstream)?;
    let page = listed(account.numbers(limit, offset)).await?;
    let e164s: Vec<String> = page.numbers.iter().map(|n| format!("+{}", n.digits)).collect();
    let held: std::collections::HashSet<String> = state.store.numbers_held(tenant, &e164s).await?.into_iter().collect();
    let items = page
        .numbers
        .into_iter()
        .zip(e164s)
        .map(|(n, e164)| RemoteNumber {
            in_switchboard: held.contains(&e164),
            e164,
            alias: n.alias,
            number_type: n.number_type,
            rate_center: n.rate_center,
            state: n.state,
            messaging_enabled: n.messaging_enabled,
        })
        .collect();
    let next_offset = page.more.then(|| offset.saturating_add(u64::from(limit)));
    Ok(RemoteNumbers { items, next_offset })
}

/// A number's name from the account's alias: printable, at most 200 characters; else the number.
fn import_name(alias: Option<&str>, e164: &E164) -> String {
    let clean: String = alias.unwrap_or_default().chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() { e164.to_string() } else { clean.trim().to_owned() }
}

/// Adds numbers the provider's Flowroute account holds (the ones named, or all of them) to the
/// tenant in one step, each with the same prefix, policy, destinations and senders, named by the
/// account's alias. Numbers the tenant has already, or another tenant has, are left alone and
/// listed with why; the rest are added together or not at all.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    request_body = ImportNumbers,
    responses((status = 200, body = ImportResult), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 502, body = Problem), (status = 503, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers/{id}/remote-numbers:import")]
pub async fn import_numbers(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<ImportNumbers>,
) -> Result<HttpResponse, ApiError> {
    let done = import(&state, scope.tenant.id, path_id(&path.1)?, body).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// Adds the account's numbers to the tenant (for the API and the portal).
pub(crate) async fn import(
    state: &AppState,
    tenant: Uuid,
    provider: Uuid,
    body: ImportNumbers,
) -> Result<ImportResult, ApiError> {
    let access = state.store.provider_access(tenant, provider).await?;
    // The named numbers, each in E.164, before Flowroute is asked.
    let mut errors = FieldErrors::new();
    let named: Option<Vec<E164>> = body.numbers.as_ref().map(|list| {
        list.iter().enumerate().filter_map(|(i, n)| errors.check(&format!("numbers[{i}]"), E164::parse(n))).collect()
    });
    if body.numbers.as_ref().is_some_and(Vec::is_empty) {
        errors.add("numbers", "names no number; leave it out to import every number of the account");
    }
    let prefix = match &body.prefix {
        Some(p) => Some(p.clone()),
        None => {
            let prefixes = state.store.provider_prefixes(tenant, provider).await?;
            match prefixes.as_slice() {
                [one] => Some(one.clone()),
                [] => {
                    errors.add("prefix", "this provider has no prefix yet: create one for it first");
                    None
                }
                many => {
                    errors.add("prefix", format!("name one of this provider's prefixes: {}", many.join(", ")));
                    None
                }
            }
        }
    };
    errors.finish().map_err(StoreError::Invalid)?;
    let creds = credentials(&access);
    let account = state.engine.account(&access.endpoint, &creds).map_err(upstream)?;
    let remote = listed(account.all_numbers(IMPORT_MAX)).await?;
    let aliases: std::collections::HashMap<String, Option<String>> =
        remote.into_iter().map(|n| (format!("+{}", n.digits), n.alias)).collect();
    let numbers: Vec<(E164, String)> = match named {
        Some(list) => {
            let mut errors = FieldErrors::new();
            for (i, e164) in list.iter().enumerate() {
                if !aliases.contains_key(e164.as_str()) {
                    errors
                        .add(format!("numbers[{i}]"), format!("the provider's Flowroute account does not hold {e164}"));
                }
            }
            errors.finish().map_err(StoreError::Invalid)?;
            list.into_iter()
                .map(|e| {
                    let name = import_name(aliases.get(e.as_str()).and_then(Option::as_deref), &e);
                    (e, name)
                })
                .collect()
        }
        // Every number of the account that is a number Switchboard can serve.
        None => {
            let mut all: Vec<(E164, String)> = aliases
                .iter()
                .filter_map(|(n, alias)| E164::parse(n).ok().map(|e| (import_name(alias.as_deref(), &e), e)))
                .map(|(name, e)| (e, name))
                .collect();
            all.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            all
        }
    };
    let import = Import {
        provider_id: provider,
        prefix: prefix.unwrap_or_default(),
        policy_id: body.policy_id,
        destinations: body.destinations,
        senders: body.senders,
        numbers,
    };
    let done = state.store.import_numbers(tenant, import).await?;
    state.engine.configuration_changed();
    Ok(ImportResult::from(done))
}

/// Points Flowroute at Switchboard for every number of the tenant on this provider: each number's
/// SMS, MMS and delivery-receipt callbacks to its prefix's URL (token included) — or, with
/// `"to": "shared"`, to the operator's shared ingress — and the account's too when all of them
/// share one URL. Only what differs is set, so running it again changes
/// nothing; everything is read back, and each number's state kept on the number.
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    request_body = ApplyCallbacks,
    responses((status = 200, body = CallbackResults), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 502, body = Problem), (status = 503, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers/{id}/callbacks:apply")]
pub async fn apply_callbacks(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<ApplyCallbacks>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(apply(&state, scope.tenant.id, path_id(&path.1)?, body.to).await?))
}

/// Points Flowroute's callbacks at Switchboard (for the API and the portal).
pub(crate) async fn apply(
    state: &AppState,
    tenant: Uuid,
    provider: Uuid,
    to: CallbackDestination,
) -> Result<CallbackResults, ApiError> {
    let done = state.engine.apply_callbacks(tenant, provider, to.into()).await.map_err(onboard)?;
    Ok(CallbackResults { numbers: done.into_iter().map(Into::into).collect() })
}

/// Looks where Flowroute posts for every number of the tenant on this provider, without changing
/// anything: numbers pointed elsewhere are `drifted` (and a `callbacks.drifted` event tells the
/// tenant). Switchboard also looks on a schedule (`callback_check_interval_secs`).
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = CallbackResults), (status = 404, body = Problem), (status = 502, body = Problem),
              (status = 503, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers/{id}/callbacks:check")]
pub async fn check_callbacks(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(look(&state, scope.tenant.id, path_id(&path.1)?).await?))
}

/// Looks where Flowroute posts, changing nothing (for the API and the portal).
pub(crate) async fn look(state: &AppState, tenant: Uuid, provider: Uuid) -> Result<CallbackResults, ApiError> {
    let found = state.engine.check_callbacks(tenant, provider).await.map_err(onboard)?;
    Ok(CallbackResults { numbers: found.into_iter().map(Into::into).collect() })
}

/// Enables texting on the tenant's numbers on this provider that lack it (or on those named), and
/// waits up to 10 s for Flowroute to finish; numbers still in progress are listed as such (ask
/// again later: numbers already enabled are not asked for twice).
#[utoipa::path(tag = "providers", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    request_body = EnableMessaging,
    responses((status = 200, body = MessagingResult), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 502, body = Problem), (status = 503, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/providers/{id}/messaging:enable")]
pub async fn enable_messaging(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<EnableMessaging>,
) -> Result<HttpResponse, ApiError> {
    let done = enable(&state, scope.tenant.id, path_id(&path.1)?, body).await?;
    Ok(HttpResponse::Ok().json(done))
}

/// Enables texting on the tenant's numbers on the provider (for the API and the portal).
pub(crate) async fn enable(
    state: &AppState,
    tenant: Uuid,
    provider: Uuid,
    body: EnableMessaging,
) -> Result<MessagingResult, ApiError> {
    let only: Option<Vec<String>> = match body.numbers {
        None => None,
        Some(list) => {
            let mut errors = FieldErrors::new();
            let parsed: Vec<String> = list
                .iter()
                .enumerate()
                .filter_map(|(i, n)| errors.check(&format!("numbers[{i}]"), E164::parse(n)).map(|e| e.to_string()))
                .collect();
            errors.finish().map_err(StoreError::Invalid)?;
            Some(parsed)
        }
    };
    let done = state.engine.enable_messaging(tenant, provider, only.as_deref()).await.map_err(onboard)?;
    Ok(MessagingResult::from(done))
}
