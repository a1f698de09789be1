//! The shape every tenant resource an admin manages shares, written once: create, list, read,
//! change and delete under `/api/v1/tenants/{tenant}/<collection>`, the routes and their OpenAPI
//! operations both derived from one [`Resource`] implementation.
//!
//! A new resource is its store types and their validation, its API bodies in [`crate::api`]
//! (converted to and from the store's), a `Resource` implementation that names the store's calls,
//! and one line in [`super::admin_resources`].

use std::future::Future;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_store::PageRequest;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use super::{ListQuery, path_id};
use crate::AppState;
use crate::api::Page;
use crate::auth::TenantScope;
use crate::body::Json;
use crate::error::ApiError;

/// What names one item in its path: a UUID (`{id}`) or the item's own name (`{ext}`, `{e164}`).
pub trait Key: Sized + 'static {
    /// How the store's calls take it.
    type Arg<'a>;
    /// Reads the path segment; one that cannot name an item is `404`.
    fn from_path(raw: &str) -> Result<Self, ApiError>;
    fn arg(&self) -> Self::Arg<'_>;
    /// Its schema in the OpenAPI document.
    fn schema() -> RefOr<Schema>;
}

impl Key for Uuid {
    type Arg<'a> = Uuid;

    fn from_path(raw: &str) -> Result<Self, ApiError> {
        path_id(raw)
    }

    fn arg(&self) -> Uuid {
        *self
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))).into()
    }
}

impl Key for String {
    type Arg<'a> = &'a str;

    fn from_path(raw: &str) -> Result<Self, ApiError> {
        Ok(raw.to_owned())
    }

    fn arg(&self) -> &str {
        self
    }

    fn schema() -> RefOr<Schema> {
        <String as PartialSchema>::schema()
    }
}

/// The sentence the OpenAPI document shows for each operation.
pub struct Docs {
    pub create: &'static str,
    pub list: &'static str,
    pub get: &'static str,
    pub update: &'static str,
    pub delete: &'static str,
}

/// A tenant's resource an admin manages.
pub trait Resource: 'static {
    /// The collection's path segment (`policies`), which is also its OpenAPI tag.
    const COLLECTION: &'static str;
    /// The item's path parameter (`id`) and, where it helps, what it holds.
    const KEY: (&'static str, Option<&'static str>);
    const DOCS: Docs;
    /// Whether creating one can collide with a name taken anywhere (`409`) rather than name
    /// something missing (`404`).
    const CREATE_CONFLICTS: bool = false;
    /// Whether a change alters how texts are routed or who may see them: the routing cache and the
    /// open streams' access are renewed after it.
    const ROUTES: bool = true;

    type Key: Key;
    type New: DeserializeOwned + ToSchema + 'static;
    type Patch: DeserializeOwned + ToSchema + 'static;
    type Item: Serialize + ToSchema + 'static;

    /// Creates one; `scope` names the tenant and who asks.
    fn create(
        state: &AppState,
        scope: &TenantScope,
        new: Self::New,
    ) -> impl Future<Output = Result<Self::Item, ApiError>>;
    fn list(
        state: &AppState,
        tenant: Uuid,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Self::Item>, ApiError>>;
    fn get(state: &AppState, tenant: Uuid, key: Self::Key) -> impl Future<Output = Result<Self::Item, ApiError>>;
    /// Changes one; `scope` names the tenant and who asks.
    fn update(
        state: &AppState,
        scope: &TenantScope,
        key: Self::Key,
        patch: Self::Patch,
    ) -> impl Future<Output = Result<Self::Item, ApiError>>;
    fn delete(state: &AppState, tenant: Uuid, key: Self::Key) -> impl Future<Output = Result<(), ApiError>>;
}

/// The five calls of a resource that passes its bodies to the store's calls and answers with their
/// records, each converted, in an `impl Resource`:
/// `store_calls!(create_x, list_xs, get_x, update_x, delete_x);`.
macro_rules! store_calls {
    ($create:ident, $list:ident, $get:ident, $update:ident, $delete:ident) => {
        async fn create(
            state: &$crate::AppState,
            scope: &$crate::auth::TenantScope,
            new: Self::New,
        ) -> Result<Self::Item, $crate::error::ApiError> {
            Ok(state.store.$create(scope.tenant.id, new.into()).await?.into())
        }

        async fn list(
            state: &$crate::AppState,
            tenant: ::uuid::Uuid,
            page: ::switchboard_store::PageRequest,
        ) -> Result<$crate::api::Page<Self::Item>, $crate::error::ApiError> {
            Ok(state.store.$list(tenant, page).await?.into())
        }

        async fn get(
            state: &$crate::AppState,
            tenant: ::uuid::Uuid,
            key: Self::Key,
        ) -> Result<Self::Item, $crate::error::ApiError> {
            Ok(state.store.$get(tenant, $crate::routes::resource::Key::arg(&key)).await?.into())
        }

        async fn update(
            state: &$crate::AppState,
            scope: &$crate::auth::TenantScope,
            key: Self::Key,
            patch: Self::Patch,
        ) -> Result<Self::Item, $crate::error::ApiError> {
            Ok(state
                .store
                .$update(scope.tenant.id, $crate::routes::resource::Key::arg(&key), patch.into())
                .await?
                .into())
        }

        async fn delete(
            state: &$crate::AppState,
            tenant: ::uuid::Uuid,
            key: Self::Key,
        ) -> Result<(), $crate::error::ApiError> {
            Ok(state.store.$delete(tenant, $crate::routes::resource::Key::arg(&key)).await?)
        }
    };
}
pub(crate) use store_calls;

fn collection_path<R: Resource>() -> String {
    format!("/api/v1/tenants/{{tenant}}/{}", R::COLLECTION)
}

fn item_path<R: Resource>() -> String {
    format!("{}/{{{}}}", collection_path::<R>(), R::KEY.0)
}

/// After a successful write: what routes texts, or who may see them, may have changed.
pub(crate) fn written<R: Resource>(state: &AppState) {
    if R::ROUTES {
        state.engine.configuration_changed();
    }
}

async fn create<R: Resource>(
    scope: TenantScope,
    state: web::Data<AppState>,
    Json(body): Json<R::New>,
) -> Result<HttpResponse, ApiError> {
    let item = R::create(&state, &scope, body).await?;
    written::<R>(&state);
    Ok(HttpResponse::Created().json(item))
}

async fn list<R: Resource>(
    scope: TenantScope,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(R::list(&state, scope.tenant.id, q.page()?).await?))
}

async fn get_one<R: Resource>(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(R::get(&state, scope.tenant.id, R::Key::from_path(&path.1)?).await?))
}

async fn update<R: Resource>(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    Json(body): Json<R::Patch>,
) -> Result<HttpResponse, ApiError> {
    let item = R::update(&state, &scope, R::Key::from_path(&path.1)?, body).await?;
    written::<R>(&state);
    Ok(HttpResponse::Ok().json(item))
}

async fn remove<R: Resource>(
    scope: TenantScope,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    R::delete(&state, scope.tenant.id, R::Key::from_path(&path.1)?).await?;
    written::<R>(&state);
    Ok(HttpResponse::NoContent().finish())
}

/// The resource's five routes. A method a path does not take falls through to the app's `404`,
/// as every other route's does.
pub fn configure<R: Resource>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(collection_path::<R>())
            .route(web::post().to(create::<R>))
            .route(web::get().to(list::<R>))
            .default_service(web::to(crate::not_found)),
    )
    .service(
        web::resource(item_path::<R>())
            .route(web::get().to(get_one::<R>))
            .route(web::patch().to(update::<R>))
            .route(web::delete().to(remove::<R>))
            .default_service(web::to(crate::not_found)),
    );
}

/// Adds the resource's five operations, and the schemas they name, to the OpenAPI document.
pub fn document<R: Resource>(openapi: &mut OpenApi) {
    let item = R::Item::name().into_owned();
    let page = format!("Page_{item}");
    let mut schemas: Vec<(String, RefOr<Schema>)> = vec![
        (R::New::name().into_owned(), R::New::schema()),
        (R::Patch::name().into_owned(), R::Patch::schema()),
        (item.clone(), R::Item::schema()),
        (page.clone(), <Page<R::Item> as PartialSchema>::schema()),
    ];
    R::New::schemas(&mut schemas);
    R::Patch::schemas(&mut schemas);
    R::Item::schemas(&mut schemas);
    let components = std::mem::take(&mut openapi.components).unwrap_or_default();
    openapi.components = Some(ComponentsBuilder::from(components).schemas_from_iter(schemas).build());

    let tenant = path_param("tenant", None, <String as Key>::schema());
    let key = path_param(R::KEY.0, R::KEY.1, <R::Key as Key>::schema());
    let list_params: Vec<Parameter> =
        [vec![tenant.clone()], ListQuery::into_params(|| Some(ParameterIn::Query))].concat();
    let create_refusal = if R::CREATE_CONFLICTS { 409 } else { 404 };
    let ops = [
        (
            collection_path::<R>(),
            HttpMethod::Post,
            operation::<R>("create", R::DOCS.create, vec![tenant.clone()])
                .request_body(Some(body(&R::New::name())))
                .response("201", json_response(&item))
                .response(create_refusal.to_string(), problem())
                .response("422", problem()),
        ),
        (
            collection_path::<R>(),
            HttpMethod::Get,
            operation::<R>("list", R::DOCS.list, list_params)
                .response("200", json_response(&page))
                .response("404", problem()),
        ),
        (
            item_path::<R>(),
            HttpMethod::Get,
            operation::<R>("get", R::DOCS.get, vec![tenant.clone(), key.clone()])
                .response("200", json_response(&item))
                .response("404", problem()),
        ),
        (
            item_path::<R>(),
            HttpMethod::Patch,
            operation::<R>("update", R::DOCS.update, vec![tenant.clone(), key.clone()])
                .request_body(Some(body(&R::Patch::name())))
                .response("200", json_response(&item))
                .response("404", problem())
                .response("422", problem()),
        ),
        (
            item_path::<R>(),
            HttpMethod::Delete,
            operation::<R>("delete", R::DOCS.delete, vec![tenant, key])
                .response("204", ResponseBuilder::new().description("").build())
                .response("404", problem())
                .response("409", problem()),
        ),
    ];
    for (path, method, op) in ops {
        openapi.paths.add_path_operation(path, vec![method], op.build());
    }
}

fn operation<R: Resource>(verb: &str, summary: &str, parameters: Vec<Parameter>) -> OperationBuilder {
    OperationBuilder::new()
        .operation_id(Some(format!("{}_{verb}", R::COLLECTION)))
        .summary(Some(summary))
        .tag(R::COLLECTION)
        .parameters(Some(parameters))
        .securities(Some([SecurityRequirement::new("bearer", Vec::<String>::new())]))
}

fn path_param(name: &str, description: Option<&str>, schema: RefOr<Schema>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(description)
        .schema(Some(schema))
        .build()
}

fn body(schema: &str) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .required(Some(Required::True))
        .build()
}

fn json_response(schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("")
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build()
}

fn problem() -> utoipa::openapi::Response {
    json_response("Problem")
}
