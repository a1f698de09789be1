//! `/api/v1/tenants/{tenant}/numbers`: the tenant's numbers (DIDs), addressed in E.164.
//!
//! A number is added (or moved to another provider) only if that provider's Flowroute account
//! holds it: a tenant cannot claim a number that is not its own, nor learn by trying which numbers
//! another tenant holds (the account is asked before anything else is looked at). A tenant's own
//! people and keys are refused when Flowroute cannot be asked; the operator (the system
//! administrator, or a token minted with `switchboard token`) goes ahead then, and may skip the
//! question altogether (`skip_provider_check`: a number being ported in, say).

use actix_web::http::StatusCode;
use switchboard_core::E164;
use switchboard_engine::onboard::{NotHeld, credentials};
use switchboard_store::numbers as store;
use switchboard_store::{PageRequest, StoreError};
use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::Page;
use crate::api::numbers::{NewNumber, Number, NumberPatch};
use crate::auth::TenantScope;
use crate::error::ApiError;

/// The `numbers` resource.
pub struct Numbers;

/// Only an operator may skip the provider's check.
fn may_skip(scope: &TenantScope, skip: bool) -> Result<bool, ApiError> {
    if skip && !scope.is_operator() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only an operator may add a number without asking its provider (skip_provider_check).",
        ));
    }
    Ok(skip)
}

/// Asks the provider's Flowroute account whether it holds `e164`. When Flowroute cannot be asked,
/// the operator goes ahead and anyone else is refused.
async fn verify(state: &AppState, scope: &TenantScope, provider: Uuid, e164: &E164) -> Result<(), ApiError> {
    let tenant = scope.tenant.id;
    let access = match state.store.provider_access(tenant, provider).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => {
            return Err(ApiError::from(StoreError::invalid("provider_id", "no such provider in this tenant")));
        }
        Err(e) => return Err(e.into()),
    };
    match state.engine.provider_holds(&access.endpoint, &credentials(&access), e164.digits()).await {
        Ok(()) => Ok(()),
        Err(NotHeld::Missing) => Err(ApiError::from(StoreError::invalid(
            "e164",
            format!("the provider's Flowroute account does not hold {e164}"),
        ))),
        Err(NotHeld::BadCredentials(detail)) => Err(ApiError::from(StoreError::invalid(
            "provider_id",
            format!("Flowroute refused this provider's keys ({detail}); correct them on the provider"),
        ))),
        Err(NotHeld::Unreachable(detail)) if scope.is_operator() => {
            tracing::warn!(%e164, %detail, "a number added by the operator without its provider's confirmation");
            Ok(())
        }
        Err(NotHeld::Unreachable(detail)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unreachable",
            format!(
                "Flowroute could not be asked whether the provider's account holds {e164} ({detail}); try again later."
            ),
        )),
    }
}

impl Resource for Numbers {
    const COLLECTION: &'static str = "numbers";
    const KEY: (&'static str, Option<&'static str>) = ("e164", Some("E.164 with its +"));
    const DOCS: Docs = Docs {
        create: "Adds a number the provider's Flowroute account holds (`422` on `e164` if it does not; `503` if Flowroute cannot be asked, except for the operator, who may also skip the question with `skip_provider_check`); a number held by another tenant is `409`.",
        list: "Lists the tenant's numbers.",
        get: "Reads a number.",
        update: "Changes a number; given lists replace the current ones. Moving it to another provider asks that provider's Flowroute account first, as adding does.",
        delete: "Releases a number; its messages stay in the history.",
    };
    const CREATE_CONFLICTS: bool = true;

    type Key = String;
    type New = NewNumber;
    type Patch = NumberPatch;
    type Item = Number;

    async fn create(state: &AppState, scope: &TenantScope, new: NewNumber) -> Result<Number, ApiError> {
        let tenant = scope.tenant.id;
        let skip = may_skip(scope, new.skip_provider_check)?;
        let input: store::NewNumber = new.into();
        if !skip {
            let e164 = state.store.check_new_number(tenant, &input).await?;
            verify(state, scope, input.provider_id, &e164).await?;
        }
        Ok(state.store.create_number(tenant, input).await?.into())
    }

    async fn list(state: &AppState, tenant: Uuid, page: PageRequest) -> Result<Page<Number>, ApiError> {
        Ok(state.store.list_numbers(tenant, page).await?.into())
    }

    async fn get(state: &AppState, tenant: Uuid, key: String) -> Result<Number, ApiError> {
        Ok(state.store.get_number(tenant, &key).await?.into())
    }

    async fn update(
        state: &AppState,
        scope: &TenantScope,
        key: String,
        patch: NumberPatch,
    ) -> Result<Number, ApiError> {
        let tenant = scope.tenant.id;
        let skip = may_skip(scope, patch.skip_provider_check)?;
        let patch: store::NumberPatch = patch.into();
        if let Some(provider) = patch.provider_id
            && !skip
        {
            let current = state.store.get_number(tenant, &key).await?;
            if current.provider_id != provider {
                let e164 = E164::parse(&current.e164).map_err(|_| ApiError::internal())?;
                verify(state, scope, provider, &e164).await?;
            }
        }
        Ok(state.store.update_number(tenant, &key, patch).await?.into())
    }

    async fn delete(state: &AppState, tenant: Uuid, key: String) -> Result<(), ApiError> {
        Ok(state.store.delete_number(tenant, &key).await?)
    }
}
