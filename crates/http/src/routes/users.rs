//! `/api/v1/tenants/{tenant}/users`: the people who sign in to a tenant, invited by its admins.

use actix_web::{HttpResponse, post, web};
use switchboard_store::PageRequest;
use switchboard_store::users::People;
use uuid::Uuid;

use super::path_id;
use super::resource::{Docs, Resource};
use crate::AppState;
use crate::api::Page;
use crate::api::users::{NewUser, User, UserPatch};
use crate::auth::TenantScope;
use crate::error::{ApiError, Problem};

/// The `users` resource.
pub struct Users;

impl Resource for Users {
    const COLLECTION: &'static str = "users";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Invites a user (a tenant admin, or the user of one extension); the answer carries the one-time invitation, shown only here. An email with an account anywhere is `409`.",
        list: "Lists the tenant's users.",
        get: "Reads a user.",
        update: "Renames a user, or disables one (ending every session of theirs at once) or enables one again.",
        delete: "Deletes a user and ends their sessions.",
    };
    const CREATE_CONFLICTS: bool = true;
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = NewUser;
    type Patch = UserPatch;
    type Item = User;

    async fn create(state: &AppState, scope: &TenantScope, new: NewUser) -> Result<User, ApiError> {
        let tenant = scope.tenant.id;
        Ok(User::invited(state.store.invite_user(People::Tenant(tenant), new.into()).await?))
    }

    async fn list(state: &AppState, tenant: Uuid, page: PageRequest) -> Result<Page<User>, ApiError> {
        Ok(state.store.list_users(People::Tenant(tenant), page).await?.into())
    }

    async fn get(state: &AppState, tenant: Uuid, key: Uuid) -> Result<User, ApiError> {
        Ok(state.store.get_user(People::Tenant(tenant), key).await?.into())
    }

    async fn update(state: &AppState, scope: &TenantScope, key: Uuid, patch: UserPatch) -> Result<User, ApiError> {
        let tenant = scope.tenant.id;
        Ok(state.store.update_user(People::Tenant(tenant), key, patch.into()).await?.into())
    }

    async fn delete(state: &AppState, tenant: Uuid, key: Uuid) -> Result<(), ApiError> {
        Ok(state.store.delete_user(People::Tenant(tenant), key).await?)
    }
}

/// Replaces a user's invitation with a new one (the previous token stops working): for a user who
/// lost theirs, or forgot their password. The answer carries the new invitation, shown only here.
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("tenant" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)))]
#[post("/api/v1/tenants/{tenant}/users/{id}/invitation")]
pub async fn reinvite(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let invited = state.store.reinvite_user(People::Tenant(scope.tenant.id), path_id(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(User::invited(invited)))
}
