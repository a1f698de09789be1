//! `/api/v1/operators`: the people who operate Switchboard, managed by operators. The first one
//! comes from `switchboard user create`; the others are invited here, like a tenant's users.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use switchboard_store::users::People;

use super::{ListQuery, path_id};
use crate::AppState;
use crate::api::Page;
use crate::api::users::{NewUser, User, UserPatch};
use crate::auth::SystemAdmin;
use crate::body::Json;
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(invite).service(list).service(reinvite).service(get_one).service(update).service(remove);
}

/// Invites an operator (`role` must be `system`); the answer carries the one-time invitation.
#[utoipa::path(operation_id = "operators_create", tag = "operators", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/api/v1/operators")]
pub async fn invite(
    _: SystemAdmin,
    state: web::Data<AppState>,
    Json(body): Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(User::invited(state.store.invite_user(People::Operators, body.into()).await?)))
}

/// Lists the operators.
#[utoipa::path(operation_id = "operators_list", tag = "operators", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<User>), (status = 403, body = Problem)))]
#[get("/api/v1/operators")]
pub async fn list(
    _: SystemAdmin,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Page::<User>::from(state.store.list_users(People::Operators, q.page()?).await?)))
}

/// Reads an operator.
#[utoipa::path(operation_id = "operators_get", tag = "operators", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/api/v1/operators/{id}")]
pub async fn get_one(
    _: SystemAdmin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(User::from(state.store.get_user(People::Operators, path_id(&path)?).await?)))
}

/// Renames, disables (ending every session at once) or enables an operator.
#[utoipa::path(operation_id = "operators_update", tag = "operators", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/api/v1/operators/{id}")]
pub async fn update(
    _: SystemAdmin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(body): Json<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    let updated = state.store.update_user(People::Operators, path_id(&path)?, body.into()).await?;
    Ok(HttpResponse::Ok().json(User::from(updated)))
}

/// Deletes an operator and ends their sessions.
#[utoipa::path(operation_id = "operators_delete", tag = "operators", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[delete("/api/v1/operators/{id}")]
pub async fn remove(
    _: SystemAdmin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.store.delete_user(People::Operators, path_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces an operator's invitation (the previous token stops working).
#[utoipa::path(operation_id = "operators_reinvite", tag = "operators", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/api/v1/operators/{id}/invitation")]
pub async fn reinvite(
    _: SystemAdmin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(User::invited(state.store.reinvite_user(People::Operators, path_id(&path)?).await?)))
}
