//! The screens of a tenant's resources, written once over the API's [`Resource`] calls: a list
//! with a form to add one, and a page per item to change or delete it. Each resource says only
//! what is particular to it ([`Screen`]): its columns, its form's fields, and how a few of its
//! values read.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use switchboard_store::PageRequest;
use switchboard_store::tenants::Tenant;
use uuid::Uuid;

use super::form::{Errors, Field, Form, Kind, Values, text};
use super::layout::{self, Frame};
use super::session::{FormData, Submission, Visitor};
use super::{PortalError, html, html_status, see_other};
use crate::AppState;
use crate::auth::TenantScope;
use crate::error::ApiError;
use crate::routes::resource::{Key, Resource, written};
use crate::routes::{directory, extensions, numbers, policies, prefixes, providers, templates, users};

/// What the forms of a tenant offer to choose from: (value, label) of each.
#[derive(Debug, Default)]
pub struct Lookups {
    pub providers: Vec<(String, String)>,
    pub prefixes: Vec<(String, String)>,
    pub extensions: Vec<(String, String)>,
    pub policies: Vec<(String, String)>,
    pub companies: Vec<(String, String)>,
    pub numbers: Vec<(String, String)>,
    /// The tenant's time zone, for the times its cells show.
    pub timezone: String,
}

/// Which of [`Lookups`] a screen's form needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Providers,
    Prefixes,
    Extensions,
    Policies,
    Companies,
    Numbers,
}

/// The first 200 of a resource, as (value of `key`, label made by `label`).
async fn choices<R: Resource>(
    state: &AppState,
    tenant: Uuid,
    key: &str,
    label: impl Fn(&Value) -> String,
) -> Result<Vec<(String, String)>, ApiError> {
    let page = R::list(state, tenant, PageRequest::parse(Some("200"), None)?).await?;
    let items = serde_json::to_value(&page.items).map_err(|_| ApiError::internal())?;
    Ok(items.as_array().map_or_else(Vec::new, |items| items.iter().map(|i| (text(&i[key]), label(i))).collect()))
}

impl Lookups {
    pub(super) async fn load(state: &AppState, tenant: &Tenant, needs: &[Lookup]) -> Result<Self, ApiError> {
        let mut l = Self { timezone: tenant.timezone.clone(), ..Self::default() };
        let tenant = tenant.id;
        for need in needs {
            match need {
                Lookup::Providers => {
                    l.providers = choices::<providers::Providers>(state, tenant, "id", |p| text(&p["name"])).await?;
                }
                Lookup::Prefixes => {
                    l.prefixes = choices::<prefixes::Prefixes>(state, tenant, "prefix", |p| text(&p["prefix"])).await?;
                }
                Lookup::Extensions => {
                    l.extensions = choices::<extensions::Extensions>(state, tenant, "extension", |e| {
                        format!("{} {}", text(&e["extension"]), text(&e["name"]))
                    })
                    .await?;
                }
                Lookup::Policies => {
                    l.policies = choices::<policies::Policies>(state, tenant, "id", |p| text(&p["name"])).await?;
                }
                Lookup::Companies => {
                    l.companies = choices::<directory::Companies>(state, tenant, "id", |c| text(&c["name"])).await?;
                }
                Lookup::Numbers => {
                    l.numbers = choices::<numbers::Numbers>(state, tenant, "e164", |n| {
                        format!("{} {}", text(&n["e164"]), text(&n["name"]))
                    })
                    .await?;
                }
            }
        }
        Ok(l)
    }

    /// The label of `value` among `options`, or the value itself.
    pub fn name_of<'a>(options: &'a [(String, String)], value: &'a str) -> &'a str {
        options.iter().find(|(v, _)| v == value).map_or(value, |(_, l)| l.as_str())
    }
}

/// What a resource's screens need beyond its [`Resource`] calls.
pub trait Screen: Resource {
    /// The list's heading (`Numbers`) and what one is called (`number`).
    const TITLE: &'static str;
    const ONE: &'static str;
    /// A sentence under the heading.
    const ABOUT: &'static str;
    /// The item's field that names it in its path.
    const KEY_FIELD: &'static str;
    /// The item's field a person knows it by (its page's heading).
    const NAME_FIELD: &'static str = Self::KEY_FIELD;
    /// The list's columns: (heading, the item's field).
    const COLUMNS: &'static [(&'static str, &'static str)];
    /// The lookups its form and cells need.
    const NEEDS: &'static [Lookup] = &[];

    /// The form's fields.
    fn fields(lookups: &Lookups) -> Vec<Field>;

    /// What is shown once, on the page right after the item is made (a generated token, an
    /// invitation): (element id, label, value).
    fn once(_item: &Value, _public_url: &str) -> Vec<Once> {
        Vec::new()
    }

    /// The API's body from a submitted form.
    fn body(fields: &[Field], form: &FormData, creating: bool) -> Value {
        super::form::to_json(fields, form, creating)
    }

    /// The label of the list's search box, where it has one.
    const SEARCH: Option<&'static str> = None;

    /// The items matching a search (where [`Self::SEARCH`] offers one).
    fn search(
        state: &AppState,
        tenant: Uuid,
        query: &str,
        page: PageRequest,
    ) -> impl std::future::Future<Output = Result<crate::api::Page<Self::Item>, ApiError>> {
        let _ = query;
        Self::list(state, tenant, page)
    }

    /// What the form to add one starts with.
    fn defaults() -> Values {
        Values::default()
    }

    /// More on the list's page, before the form to add one (imports, exports).
    fn list_more(_base: &str, _visitor: &Visitor) -> Markup {
        html! {}
    }

    /// What the form shows for an item.
    fn values(item: &Value) -> Values {
        Values::of(item)
    }

    /// The form field a refusal's path names, where it is not the path's first segment.
    fn place(_path: &str, _body: &Value, _form: &FormData) -> Option<String> {
        None
    }

    /// A cell of the list.
    fn cell(field: &str, item: &Value, lookups: &Lookups) -> Markup {
        let _ = lookups;
        let t = text(&item[field]);
        if t.is_empty() {
            layout::none()
        } else {
            html! { (t) }
        }
    }

    /// More on an item's page, above its form (actions of its own).
    fn more(_item: &Value, _base: &str, _visitor: &Visitor, _lookups: &Lookups) -> Markup {
        html! {}
    }
}

/// A value shown once: (element id, label, value).
pub type Once = (&'static str, &'static str, String);

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    /// A search, where the screen offers one.
    q: Option<String>,
    /// What an import did (`done=imported`).
    created: Option<usize>,
    updated: Option<usize>,
    companies: Option<usize>,
    existing: Option<usize>,
    /// A notice to show: `deleted`.
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ItemQuery {
    /// A notice to show: `created`, `saved`.
    done: Option<String>,
}

fn collection<S: Screen>(slug: &str) -> String {
    format!("/portal/t/{slug}/{}", S::COLLECTION)
}

fn item_href<S: Screen>(slug: &str, item: &Value) -> String {
    format!("{}/{}", collection::<S>(slug), text(&item[S::KEY_FIELD]))
}

/// A title that starts with a capital.
fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The list, then the form to add one.
async fn list_page<S: Screen>(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty() && S::SEARCH.is_some());
    let n = |v: Option<usize>| v.unwrap_or_default();
    let imported = match q.done.as_deref() {
        Some("imported") => Some(format!(
            "Imported: {} added, {} updated, {} compan{} made.",
            n(q.created),
            n(q.updated),
            n(q.companies),
            if n(q.companies) == 1 { "y" } else { "ies" }
        )),
        Some("companies-imported") => {
            Some(format!("Imported: {} added, {} already there.", n(q.created), n(q.existing)))
        }
        _ => None,
    };
    let listing = Listing { cursor: q.cursor.as_deref(), search, done: q.done.as_deref(), notice: imported.as_deref() };
    let page = render_list::<S>(&state, &visitor, &scope, listing, None).await?;
    Ok(html(page))
}

/// Which part of a list a page shows.
#[derive(Debug, Default, Clone, Copy)]
struct Listing<'a> {
    cursor: Option<&'a str>,
    search: Option<&'a str>,
    /// A notice to show.
    done: Option<&'a str>,
    /// A notice in words.
    notice: Option<&'a str>,
}

async fn render_list<S: Screen>(
    state: &AppState,
    visitor: &Visitor,
    scope: &TenantScope,
    listing: Listing<'_>,
    refused: Option<(Values, Errors)>,
) -> Result<Markup, PortalError> {
    let tenant = &scope.tenant;
    let (done, search) = (listing.done, listing.search);
    let request = PageRequest::parse(None, listing.cursor)?;
    let page = match search {
        Some(query) => S::search(state, tenant.id, query, request).await?,
        None => S::list(state, tenant.id, request).await?,
    };
    let items = serde_json::to_value(&page.items).map_err(|_| ApiError::internal())?;
    let items = items.as_array().cloned().unwrap_or_default();
    let lookups = Lookups::load(state, tenant, S::NEEDS).await?;
    let fields = S::fields(&lookups);
    let (values, errors) = refused.unwrap_or_else(|| (S::defaults(), Errors::default()));
    let base = collection::<S>(&tenant.slug);
    let frame = Frame { visitor, tenant: Some((&tenant.slug, &tenant.name)), current: S::COLLECTION };
    let form = Form {
        id: "create",
        action: &base,
        fields: &fields,
        values: &values,
        errors: &errors,
        creating: true,
        submit: &format!("Add the {}", S::ONE),
        csrf: layout::csrf(visitor),
    };
    let add_heading =
        format!("Add a{} {}", if S::ONE.starts_with(['a', 'e', 'i', 'o', 'u']) { "n" } else { "" }, S::ONE);
    Ok(layout::page(
        S::TITLE,
        Some(frame),
        html! {
            @if done == Some("deleted") { (layout::notice(&format!("The {} was deleted.", S::ONE))) }
            @if let Some(n) = listing.notice { (layout::notice(n)) }
            p.about { (S::ABOUT) }
            @if let Some(label) = S::SEARCH {
                form.filters method="get" action=(base) role="search" aria-label=(label)
                     hx-get=(base) hx-trigger="input changed delay:300ms from:#q, search from:#q" hx-target="#results"
                     hx-select="#results" hx-swap="outerHTML" hx-push-url="true" {
                    div.field {
                        label for="q" { (label) }
                        input #q type="search" name="q" value=(search.unwrap_or_default()) autocomplete="off";
                    }
                    button type="submit" { "Search" }
                }
            }
            div #results aria-live="polite" {
            @if items.is_empty() {
                @if let Some(query) = search { p { "No " (S::TITLE.to_lowercase()) " match “" (query) "”." } }
                @else { p { "No " (S::TITLE.to_lowercase()) " yet." } }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { (S::TITLE) }
                        thead { tr { @for (heading, _) in S::COLUMNS { th scope="col" { (heading) } } } }
                        tbody {
                            @for item in &items {
                                tr {
                                    @for (i, (_, field)) in S::COLUMNS.iter().enumerate() {
                                        @if i == 0 {
                                            th scope="row" { a href=(item_href::<S>(&tenant.slug, item)) { (text(&item[*field])) } }
                                        } @else {
                                            td { (S::cell(field, item, &lookups)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next_cursor {
                    p { a href={ (base) "?cursor=" (next) @if let Some(query) = search { "&q=" (url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()) } } { "Next page" } }
                }
            }
            }
            (S::list_more(&base, visitor))
            section aria-labelledby="add" {
                h2 #add { (add_heading) }
                (form.render())
            }
        },
    ))
}

/// Adds one: to its page, or back to the form with the API's refusal next to its fields.
async fn create<S: Screen>(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let lookups = Lookups::load(&state, &scope.tenant, S::NEEDS).await?;
    let fields = S::fields(&lookups);
    let body = S::body(&fields, &sent.form, true);
    let result = match crate::body::parse::<S::New>(body.to_string().as_bytes()) {
        Ok(new) => S::create(&state, &scope, new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(item) => {
            written::<S>(&state);
            crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 201, body).await;
            let item = serde_json::to_value(&item).map_err(|_| ApiError::internal())?;
            let once = S::once(&item, &state.public_url);
            if once.is_empty() {
                return Ok(see_other(&format!("{}?done=created", item_href::<S>(&slug, &item))));
            }
            let page = render_item::<S>(&state, &sent.visitor, &scope, &item, Some("created"), None, &once).await?;
            Ok(html(page))
        }
        Err(e) if is_refusal(&e) => {
            let sent_back =
                (Values::sent(&sent.form), Errors::from_api(&e, &fields, |p| S::place(p, &body, &sent.form)));
            let page = render_list::<S>(&state, &sent.visitor, &scope, Listing::default(), Some(sent_back)).await?;
            Ok(html_status(e.status(), page))
        }
        Err(e) => Err(e.into()),
    }
}

/// A refusal a person fixes in the form (not a missing tenant or a lost session).
fn is_refusal(e: &ApiError) -> bool {
    matches!(e.status().as_u16(), 400 | 409 | 422 | 502 | 503)
        || (e.status().as_u16() == 404 && e.code() != "not_found")
}

async fn item_page<S: Screen>(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<ItemQuery>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let key = req.match_info().get("key").unwrap_or_default().to_owned();
    let item = S::get(&state, scope.tenant.id, S::Key::from_path(&key)?).await?;
    let item = serde_json::to_value(&item).map_err(|_| ApiError::internal())?;
    Ok(html(render_item::<S>(&state, &visitor, &scope, &item, q.done.as_deref(), None, &[]).await?))
}

/// An item's page: `once`, what is shown this once.
pub(super) async fn render_item<S: Screen>(
    state: &AppState,
    visitor: &Visitor,
    scope: &TenantScope,
    item: &Value,
    done: Option<&str>,
    refused: Option<(Values, Errors)>,
    once: &[Once],
) -> Result<Markup, PortalError> {
    let tenant = &scope.tenant;
    let lookups = Lookups::load(state, tenant, S::NEEDS).await?;
    let fields = S::fields(&lookups);
    let href = item_href::<S>(&tenant.slug, item);
    let (values, errors) = refused.unwrap_or_else(|| (S::values(item), Errors::default()));
    let form = Form {
        id: "change",
        action: &href,
        fields: &fields,
        values: &values,
        errors: &errors,
        creating: false,
        submit: "Save changes",
        csrf: layout::csrf(visitor),
    };
    let title = format!("{} {}", capital(S::ONE), text(&item[S::NAME_FIELD]));
    let frame = Frame { visitor, tenant: Some((&tenant.slug, &tenant.name)), current: S::COLLECTION };
    Ok(layout::page(
        &title,
        Some(frame),
        html! {
            p { a href=(collection::<S>(&tenant.slug)) { "All " (S::TITLE.to_lowercase()) } }
            @match done {
                Some("created") => (layout::notice(&format!("The {} was added.", S::ONE))),
                Some("saved") => (layout::notice("Saved.")),
                Some("checked") => (layout::notice("The connection was checked just now.")),
                Some("invited") => (layout::notice("A new invitation replaces the old one, which no longer works.")),
                _ => {}
            }
            @for (id, label, value) in once {
                div.once {
                    p { strong { (label) } " (shown this once; copy it now):" }
                    p { code.copy #{ "once-" (id) } { (value) } }
                }
            }
            (S::more(item, &href, visitor, &lookups))
            section aria-labelledby="change-h" {
                h2 #change-h { "Change" }
                (form.render())
            }
            section aria-labelledby="delete-h" {
                h2 #delete-h { "Delete" }
                form method="post" action={ (href) "/delete" } {
                    (layout::csrf(visitor))
                    button.danger type="submit" { "Delete this " (S::ONE) }
                }
            }
        },
    ))
}

async fn update<S: Screen>(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let key = req.match_info().get("key").unwrap_or_default().to_owned();
    let lookups = Lookups::load(&state, &scope.tenant, S::NEEDS).await?;
    let fields = S::fields(&lookups);
    let body = S::body(&fields, &sent.form, false);
    let result = match crate::body::parse::<S::Patch>(body.to_string().as_bytes()) {
        Ok(patch) => S::update(&state, &scope, S::Key::from_path(&key)?, patch).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(item) => {
            written::<S>(&state);
            crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 200, body).await;
            let item = serde_json::to_value(&item).map_err(|_| ApiError::internal())?;
            Ok(see_other(&format!("{}?done=saved", item_href::<S>(&slug, &item))))
        }
        Err(e) if is_refusal(&e) => {
            // The item as it stands, drawn again around what was sent.
            let current = S::get(&state, scope.tenant.id, S::Key::from_path(&key)?).await?;
            let current = serde_json::to_value(&current).map_err(|_| ApiError::internal())?;
            let errors = Errors::from_api(&e, &fields, |p| S::place(p, &body, &sent.form));
            let refused_form = Some((Values::sent(&sent.form), errors));
            let page = render_item::<S>(&state, &sent.visitor, &scope, &current, None, refused_form, &[]).await?;
            Ok(html_status(e.status(), page))
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete<S: Screen>(
    req: HttpRequest,
    state: web::Data<AppState>,
    sent: Submission,
) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let key = req.match_info().get("key").unwrap_or_default().to_owned();
    S::delete(&state, scope.tenant.id, S::Key::from_path(&key)?).await?;
    written::<S>(&state);
    crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 204, Value::Null).await;
    Ok(see_other(&format!("{}?done=deleted", collection::<S>(&slug))))
}

fn routes<S: Screen>(cfg: &mut web::ServiceConfig) {
    let base = format!("/t/{{tenant}}/{}", S::COLLECTION);
    cfg.service(web::resource(base.clone()).route(web::get().to(list_page::<S>)).route(web::post().to(create::<S>)))
        .service(
            web::resource(format!("{base}/{{key}}"))
                .route(web::get().to(item_page::<S>))
                .route(web::post().to(update::<S>)),
        )
        .service(web::resource(format!("{base}/{{key}}/delete")).route(web::post().to(delete::<S>)));
}

/// Every resource screen.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::<providers::Providers>(cfg);
    routes::<prefixes::Prefixes>(cfg);
    routes::<extensions::Extensions>(cfg);
    routes::<numbers::Numbers>(cfg);
    routes::<policies::Policies>(cfg);
    routes::<directory::Contacts>(cfg);
    routes::<directory::Companies>(cfg);
    routes::<templates::ReplyTemplates>(cfg);
    routes::<users::Users>(cfg);
    cfg.route("/t/{tenant}/users/{key}/invitation", web::post().to(reinvite));
}

fn options(list: &[(String, String)]) -> Vec<(String, String)> {
    list.to_vec()
}

impl Screen for providers::Providers {
    const TITLE: &'static str = "Providers";
    const ONE: &'static str = "provider";
    const ABOUT: &'static str = "A provider is a Flowroute account: its API keys send this tenant's texts. \
        The keys are tried before they are saved, and the secret key is never shown again.";
    const KEY_FIELD: &'static str = "id";
    const NAME_FIELD: &'static str = "name";
    const COLUMNS: &'static [(&'static str, &'static str)] =
        &[("Name", "name"), ("Access key", "access_key_hint"), ("Connection", "connection"), ("Endpoint", "endpoint")];
    const NEEDS: &'static [Lookup] = &[Lookup::Companies];

    fn fields(l: &Lookups) -> Vec<Field> {
        vec![
            Field::new("name", "Name", Kind::Text),
            Field::new("kind", "Kind", Kind::Fixed("flowroute")),
            Field::new("access_key", "Access key", Kind::Optional)
                .help("Flowroute's API access key (its Manager: Preferences, API Control). On a change, leave it blank to keep the one saved."),
            Field::new("secret_key", "Secret key", Kind::Secret)
                .help("Write-only. On a change, leave it blank to keep the one saved."),
            Field::new("endpoint", "Messaging endpoint", Kind::Optional)
                .help("Leave blank for Flowroute's own (https://api.flowroute.com/v2.2/messages)."),
            Field::new("default_did", "Default number", Kind::Optional)
                .help("Sends from extensions with no number of their own use it, E.164 (+12025550100)."),
            Field::new("catch_all_company_id", "Catch-all company", Kind::Choice {
                options: options(&l.companies),
                blank: Some("None"),
            })
            .help("Senders that match no contact are filed under it."),
        ]
    }

    fn cell(field: &str, item: &Value, lookups: &Lookups) -> Markup {
        if field == "connection" {
            return connection(item, &lookups.timezone);
        }
        html! { (text(&item[field])) }
    }

    fn more(item: &Value, base: &str, visitor: &Visitor, lookups: &Lookups) -> Markup {
        html! {
            p { a href={ (base) "/account" } { "The Flowroute account: its numbers, texting and callbacks" } }
            section aria-labelledby="conn-h" {
                h2 #conn-h { "Connection" }
                div #connection { (connection(item, &lookups.timezone)) }
                form method="post" action={ (base) "/check" } hx-post={ (base) "/check" } hx-target="#connection" hx-select="#connection" hx-swap="outerHTML" {
                    (layout::csrf(visitor))
                    button type="submit" { "Check the connection now" }
                }
            }
        }
    }
}

/// A provider's connection as last checked, in words.
pub fn connection(item: &Value, zone: &str) -> Markup {
    let c = &item["connection"];
    let status = text(&c["status"]);
    let said = match status.as_str() {
        "ok" => "Connected",
        "bad_credentials" => "Keys refused by Flowroute",
        "unreachable" => "Flowroute could not be reached",
        "" => "Not checked yet",
        other => other,
    };
    html! {
        span.status data-status=(status) { (said) }
        @if let Some(detail) = c["detail"].as_str().filter(|d| !d.is_empty()) { " — " (detail) }
        @if let Some(at) = c["checked_at"].as_str() { " " span.muted { "(checked " (layout::when_text(at, zone)) ")" } }
    }
}

impl Screen for prefixes::Prefixes {
    const TITLE: &'static str = "Prefixes";
    const ONE: &'static str = "prefix";
    const ABOUT: &'static str = "A prefix is the address Flowroute posts this tenant's texts and delivery receipts to: \
        its webhook URL goes into Flowroute as the number's callback.";
    const KEY_FIELD: &'static str = "prefix";
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("Prefix", "prefix"),
        ("Provider", "provider_id"),
        ("Webhook URL", "webhook_url"),
        ("Token", "token_required"),
    ];
    const NEEDS: &'static [Lookup] = &[Lookup::Providers];

    fn fields(l: &Lookups) -> Vec<Field> {
        vec![
            Field::new("prefix", "Prefix", Kind::Text)
                .help("3 to 64 of a-z, 0-9, '_' and '-'; it becomes the path Flowroute posts to.")
                .fixed_after_creation(),
            Field::new("provider_id", "Provider", Kind::Choice { options: options(&l.providers), blank: None })
                .fixed_after_creation(),
            Field::new("token", "Token", Kind::Secret)
                .help("Leave blank and Switchboard makes one (shown once); on a change, blank keeps it."),
            Field::new("allowed_sources", "Allowed sources", Kind::List)
                .help("Addresses or CIDR blocks that may post, or 'flowroute' for Flowroute's own; blank allows any."),
        ]
    }

    fn once(item: &Value, _: &str) -> Vec<Once> {
        // The answer to the creation carries the token, in the URL too; later answers do not.
        if item["token"].is_string() {
            vec![("webhook_url", "The webhook URL with its token", text(&item["webhook_url"]))]
        } else {
            Vec::new()
        }
    }

    fn cell(field: &str, item: &Value, lookups: &Lookups) -> Markup {
        match field {
            "provider_id" => html! { (Lookups::name_of(&lookups.providers, &text(&item[field]))) },
            "token_required" => html! { (if item[field] == Value::Bool(true) { "required" } else { "none" }) },
            "webhook_url" => html! { code { (text(&item[field])) } },
            _ => html! { (text(&item[field])) },
        }
    }

    fn more(item: &Value, _base: &str, _visitor: &Visitor, _lookups: &Lookups) -> Markup {
        html! {
            section aria-labelledby="url-h" {
                h2 #url-h { "Webhook URL" }
                p { "Enter it in Flowroute as the SMS, MMS and delivery-receipt callback (its token, if any, was shown when the prefix was added):" }
                p { code.copy #webhook-url { (text(&item["webhook_url"])) } }
            }
        }
    }
}

impl Screen for extensions::Extensions {
    const TITLE: &'static str = "Extensions";
    const ONE: &'static str = "extension";
    const ABOUT: &'static str = "The PBX extensions texts are routed to, and sent from.";
    const KEY_FIELD: &'static str = "extension";
    const COLUMNS: &'static [(&'static str, &'static str)] =
        &[("Extension", "extension"), ("Name", "name"), ("Enabled", "enabled"), ("SIP user", "sip_user")];

    fn fields(_: &Lookups) -> Vec<Field> {
        vec![
            Field::new("extension", "Extension", Kind::Text)
                .help("As the PBX numbers it, such as 101.")
                .fixed_after_creation(),
            Field::new("name", "Name", Kind::Text),
            Field::new("enabled", "Enabled", Kind::Flag).help("A disabled extension gets no texts and may send none."),
            Field::new("sip_user", "SIP user", Kind::Optional).help(
                "Its texts also go to its phone as SIP MESSAGEs, to sip:<user>@<the SIP domain in Settings>, \
                 such as 101. Blank: no SIP delivery.",
            ),
            Field::new("email", "Email when nobody reads", Kind::Optional).help(
                "A text nobody read in the inbox (nor took on the phone) in time is emailed here; a reply to \
                 that email goes back to the customer by text. Blank: no email.",
            ),
            Field::new("email_delay_minutes", "Minutes to wait before emailing", Kind::Count)
                .help("1 to 1440; 5 unless set."),
        ]
    }

    fn defaults() -> Values {
        Values::sent(&FormData(vec![("enabled".into(), "on".into())]))
    }

    fn cell(field: &str, item: &Value, _: &Lookups) -> Markup {
        match field {
            "enabled" => html! { (if item[field] == Value::Bool(true) { "yes" } else { "no (disabled)" }) },
            "sip_user" if item[field].is_null() => html! { "none" },
            _ => html! { (text(&item[field])) },
        }
    }
}

impl Screen for numbers::Numbers {
    const TITLE: &'static str = "Numbers";
    const ONE: &'static str = "number";
    const ABOUT: &'static str = "The tenant's phone numbers (DIDs): where their texts arrive (the prefix), \
        which extensions get them, which may send from them, and the policy they follow.";
    const KEY_FIELD: &'static str = "e164";
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("Number", "e164"),
        ("Name", "name"),
        ("Prefix", "prefix"),
        ("Destinations", "destinations"),
        ("Policy", "policy_id"),
        ("Callbacks", "callbacks"),
    ];
    const NEEDS: &'static [Lookup] = &[Lookup::Providers, Lookup::Prefixes, Lookup::Extensions, Lookup::Policies];
    const SEARCH: Option<&'static str> = Some("Find a number by its digits or its name");

    async fn search(
        state: &AppState,
        tenant: Uuid,
        query: &str,
        page: PageRequest,
    ) -> Result<crate::api::Page<crate::api::numbers::Number>, ApiError> {
        Ok(state.store.search_numbers(tenant, query, page).await?.into())
    }

    fn fields(l: &Lookups) -> Vec<Field> {
        vec![
            Field::new("e164", "Number", Kind::Text)
                .help("E.164 with its +, such as +12025550100; the provider's Flowroute account must hold it.")
                .fixed_after_creation(),
            Field::new("name", "Name", Kind::Text),
            Field::new("provider_id", "Provider", Kind::Choice { options: options(&l.providers), blank: None }),
            Field::new("prefix", "Prefix", Kind::Choice { options: options(&l.prefixes), blank: None }),
            Field::new("policy_id", "Policy", Kind::Choice { options: options(&l.policies), blank: Some("None") }),
            Field::new("destinations", "Destinations", Kind::Checks(options(&l.extensions)))
                .help("The extensions that get its texts."),
            Field::new("senders", "Senders", Kind::Checks(options(&l.extensions)))
                .help("The extensions that may send from it."),
        ]
    }

    fn cell(field: &str, item: &Value, lookups: &Lookups) -> Markup {
        match field {
            "policy_id" if item[field].is_null() => layout::none(),
            "policy_id" => html! { (Lookups::name_of(&lookups.policies, &text(&item[field]))) },
            "callbacks" if item[field].is_null() => html! { span.muted { "not set by Switchboard" } },
            "callbacks" => html! { (text(&item[field]["state"])) },
            _ => {
                let t = text(&item[field]);
                if t.is_empty() {
                    layout::none()
                } else {
                    html! { (t) }
                }
            }
        }
    }
}

/// The days of a week as the API names them, and as people read them.
const DAYS: &[(&str, &str)] = &[
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

const OPEN: [&str; 7] = ["open-mon", "open-tue", "open-wed", "open-thu", "open-fri", "open-sat", "open-sun"];
const CLOSE: [&str; 7] = ["close-mon", "close-tue", "close-wed", "close-thu", "close-fri", "close-sat", "close-sun"];
const KEYWORD: [&str; 8] =
    ["keyword-0", "keyword-1", "keyword-2", "keyword-3", "keyword-4", "keyword-5", "keyword-6", "keyword-7"];
const KEYWORD_TO: [&str; 8] = [
    "keyword-to-0",
    "keyword-to-1",
    "keyword-to-2",
    "keyword-to-3",
    "keyword-to-4",
    "keyword-to-5",
    "keyword-to-6",
    "keyword-to-7",
];

impl Screen for policies::Policies {
    const TITLE: &'static str = "Policies";
    const ONE: &'static str = "policy";
    const ABOUT: &'static str = "A policy says when a number is open, where texts go after hours and what the sender \
        is told, and which keywords route a text elsewhere. Times are in the policy's own time zone.";
    const KEY_FIELD: &'static str = "id";
    const NAME_FIELD: &'static str = "name";
    const COLUMNS: &'static [(&'static str, &'static str)] =
        &[("Name", "name"), ("Time zone", "timezone"), ("Business hours", "business_hours"), ("Keywords", "keywords")];

    fn fields(_: &Lookups) -> Vec<Field> {
        let mut fields = vec![
            Field::new("name", "Name", Kind::Text),
            Field::new("timezone", "Time zone", Kind::Text)
                .help("An IANA time zone, such as America/New_York or America/Chicago."),
        ];
        for (i, (_, day)) in DAYS.iter().enumerate() {
            fields.push(Field::new(OPEN[i], format!("{day} opens"), Kind::Time).group("Business hours"));
            fields.push(Field::new(CLOSE[i], format!("{day} closes"), Kind::Time).group("Business hours"));
        }
        fields.extend([
            Field::new("holidays", "Holidays (closed all day)", Kind::Lines { item: "Holiday" }).help(
                "One a line: the date as YYYY-MM-DD, then its name if you like, such as 2026-12-25 Christmas Day. \
                 Texts on these days are handled as after hours.",
            ),
            Field::new("after_hours_destinations", "After hours, texts go to", Kind::List)
                .help("Extensions, separated by commas; blank keeps the number's own."),
            Field::new("auto_reply", "After-hours auto-reply", Kind::Reply)
                .help("Sent back to the sender outside business hours, at most once per interval."),
            Field::new("auto_reply_interval_minutes", "Minutes between auto-replies to one sender", Kind::Count),
        ]);
        for i in 0..KEYWORD.len() {
            let group = "Keyword rules (the first that matches a text's first word wins)";
            fields.push(Field::new(KEYWORD[i], format!("Rule {} keyword", i + 1), Kind::Text).group(group));
            fields.push(Field::new(KEYWORD_TO[i], format!("Rule {} goes to", i + 1), Kind::List).group(group));
        }
        fields.extend([
            Field::new("help_reply", "Reply to HELP", Kind::Reply),
            Field::new("outbound_per_minute", "Texts per minute each number may send", Kind::Count),
            Field::new("opt_out_handling", "STOP and START change the opt-out list", Kind::Flag),
        ]);
        fields
    }

    fn body(fields: &[Field], form: &FormData, creating: bool) -> Value {
        let _ = fields;
        let mut body = serde_json::Map::new();
        body.insert("name".into(), form.get("name").unwrap_or_default().into());
        body.insert("timezone".into(), form.get("timezone").unwrap_or_default().into());
        let mut windows = Vec::new();
        for (i, (day, _)) in DAYS.iter().enumerate() {
            let (open, close) = (form.get(OPEN[i]).unwrap_or_default(), form.get(CLOSE[i]).unwrap_or_default());
            if !open.is_empty() || !close.is_empty() {
                windows.push(serde_json::json!({"days": [day], "start": open, "end": if close == "00:00" { "24:00" } else { close }}));
            }
        }
        body.insert("business_hours".into(), Value::Array(windows));
        let holidays: Vec<Value> = super::form::lines(form.get("holidays").unwrap_or_default())
            .iter()
            .map(|line| match line.split_once(char::is_whitespace) {
                Some((date, name)) => serde_json::json!({"date": date, "name": name.trim()}),
                None => serde_json::json!({"date": line}),
            })
            .collect();
        body.insert("holidays".into(), Value::Array(holidays));
        let to: Vec<Value> = form
            .all("after_hours_destinations")
            .into_iter()
            .flat_map(super::form::split_list)
            .map(Value::String)
            .collect();
        let reply = form.get("auto_reply").unwrap_or_default();
        if !to.is_empty() || !reply.is_empty() {
            let reply = if reply.is_empty() { Value::Null } else { Value::String(reply.to_owned()) };
            body.insert("after_hours".into(), serde_json::json!({"destinations": to, "auto_reply": reply}));
        } else if !creating {
            body.insert("after_hours".into(), Value::Null);
        }
        let mut rules = Vec::new();
        for i in 0..KEYWORD.len() {
            let keyword = form.get(KEYWORD[i]).unwrap_or_default();
            let to: Vec<Value> =
                form.all(KEYWORD_TO[i]).into_iter().flat_map(super::form::split_list).map(Value::String).collect();
            if !keyword.is_empty() || !to.is_empty() {
                rules.push(serde_json::json!({"keyword": keyword, "destinations": to}));
            }
        }
        body.insert("keywords".into(), Value::Array(rules));
        let count = |name: &str| {
            let v = form.get(name).unwrap_or_default();
            (!v.is_empty()).then(|| v.parse::<u64>().map_or_else(|_| Value::String(v.to_owned()), Value::from))
        };
        for name in ["auto_reply_interval_minutes", "outbound_per_minute"] {
            if let Some(v) = count(name) {
                body.insert(name.into(), v);
            }
        }
        let help = form.get("help_reply").unwrap_or_default();
        if !help.is_empty() {
            body.insert("help_reply".into(), help.into());
        } else if !creating {
            body.insert("help_reply".into(), Value::Null);
        }
        body.insert("opt_out_handling".into(), Value::Bool(form.get("opt_out_handling").is_some()));
        Value::Object(body)
    }

    fn defaults() -> Values {
        let mut form = vec![
            ("timezone".to_owned(), "America/New_York".to_owned()),
            ("auto_reply_interval_minutes".to_owned(), "1440".to_owned()),
            ("outbound_per_minute".to_owned(), "60".to_owned()),
            ("opt_out_handling".to_owned(), "on".to_owned()),
        ];
        for i in 0..5 {
            form.push((OPEN[i].to_owned(), "09:00".to_owned()));
            form.push((CLOSE[i].to_owned(), "17:00".to_owned()));
        }
        Values::sent(&FormData(form))
    }

    fn values(item: &Value) -> Values {
        let mut form = vec![
            ("name".to_owned(), text(&item["name"])),
            ("timezone".to_owned(), text(&item["timezone"])),
            ("auto_reply_interval_minutes".to_owned(), text(&item["auto_reply_interval_minutes"])),
            ("outbound_per_minute".to_owned(), text(&item["outbound_per_minute"])),
            ("help_reply".to_owned(), text(&item["help_reply"])),
            ("after_hours_destinations".to_owned(), text(&item["after_hours"]["destinations"])),
            ("auto_reply".to_owned(), text(&item["after_hours"]["auto_reply"])),
        ];
        let holidays: Vec<String> = item["holidays"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| format!("{} {}", text(&h["date"]), text(&h["name"])).trim_end().to_owned())
            .collect();
        form.push(("holidays".to_owned(), holidays.join("\n")));
        if item["opt_out_handling"] == Value::Bool(true) {
            form.push(("opt_out_handling".to_owned(), "on".to_owned()));
        }
        for w in item["business_hours"].as_array().into_iter().flatten() {
            for day in w["days"].as_array().into_iter().flatten() {
                if let Some(i) = DAYS.iter().position(|(d, _)| Some(*d) == day.as_str()) {
                    form.push((OPEN[i].to_owned(), text(&w["start"])));
                    form.push((CLOSE[i].to_owned(), text(&w["end"]).replace("24:00", "00:00")));
                }
            }
        }
        for (i, rule) in item["keywords"].as_array().into_iter().flatten().enumerate().take(KEYWORD.len()) {
            form.push((KEYWORD[i].to_owned(), text(&rule["keyword"])));
            form.push((KEYWORD_TO[i].to_owned(), text(&rule["destinations"])));
        }
        Values::sent(&FormData(form))
    }

    fn place(path: &str, body: &Value, form: &FormData) -> Option<String> {
        let index = |p: &str| p.split_once('[')?.1.split_once(']')?.0.parse::<usize>().ok();
        if let Some(rest) = path.strip_prefix("business_hours") {
            let i = index(rest)?;
            let day = body["business_hours"][i]["days"][0].as_str()?;
            let d = DAYS.iter().position(|(x, _)| *x == day)?;
            return Some(if rest.contains(".end") { CLOSE[d] } else { OPEN[d] }.to_owned());
        }
        if let Some(rest) = path.strip_prefix("keywords") {
            // The body's i-th rule is the form's i-th row that was filled in.
            let i = index(rest)?;
            let filled = |r: &usize| {
                !form.get(KEYWORD[*r]).unwrap_or_default().is_empty() || !form.all(KEYWORD_TO[*r]).is_empty()
            };
            let row = (0..KEYWORD.len()).filter(filled).nth(i)?;
            return Some(if rest.contains(".destinations") { KEYWORD_TO[row] } else { KEYWORD[row] }.to_owned());
        }
        match path {
            p if p.starts_with("after_hours.destinations") => Some("after_hours_destinations".into()),
            p if p.starts_with("after_hours.auto_reply") => Some("auto_reply".into()),
            _ => None,
        }
    }

    fn cell(field: &str, item: &Value, _: &Lookups) -> Markup {
        match field {
            "business_hours" => {
                let windows = item[field].as_array().cloned().unwrap_or_default();
                if windows.is_empty() {
                    return html! { "always open" };
                }
                let parts: Vec<String> = windows
                    .iter()
                    .map(|w| format!("{} {}–{}", text(&w["days"]), text(&w["start"]), text(&w["end"])))
                    .collect();
                html! { (parts.join("; ")) }
            }
            "keywords" => {
                let words: Vec<String> =
                    item[field].as_array().into_iter().flatten().map(|r| text(&r["keyword"])).collect();
                if words.is_empty() {
                    layout::none()
                } else {
                    html! { (words.join(", ")) }
                }
            }
            _ => html! { (text(&item[field])) },
        }
    }
}

impl Screen for templates::ReplyTemplates {
    const TITLE: &'static str = "Quick replies";
    const ONE: &'static str = "quick reply";
    const ABOUT: &'static str = "Texts the tenant's people pick in the inbox's reply box instead of typing them: \
        opening hours, directions, a booking link.";
    const KEY_FIELD: &'static str = "id";
    const NAME_FIELD: &'static str = "name";
    const COLUMNS: &'static [(&'static str, &'static str)] = &[("Name", "name"), ("Text", "body")];

    fn fields(_: &Lookups) -> Vec<Field> {
        vec![
            Field::new("name", "Name", Kind::Text).help("What people pick it by, such as Hours."),
            Field::new("body", "Text", Kind::Reply),
        ]
    }
}

impl Screen for directory::Companies {
    const TITLE: &'static str = "Companies";
    const ONE: &'static str = "company";
    const ABOUT: &'static str = "Companies group contacts; a provider's catch-all company takes the senders \
        that match no contact.";
    const KEY_FIELD: &'static str = "id";
    const NAME_FIELD: &'static str = "name";
    const COLUMNS: &'static [(&'static str, &'static str)] = &[("Name", "name")];

    fn fields(_: &Lookups) -> Vec<Field> {
        vec![Field::new("name", "Name", Kind::Text)]
    }

    fn list_more(base: &str, visitor: &Visitor) -> Markup {
        csv_section(
            base,
            visitor,
            "Download every company as CSV",
            "(name, and how many contacts it has).",
            "Import companies from a CSV file",
            "A first line naming the column name; up to 10,000 companies. Names the tenant has already (ignoring case) are left as they are. If any line is refused, nothing is imported.",
        )
    }
}

/// A list's CSV section: a download, and an upload to import.
fn csv_section(base: &str, visitor: &Visitor, download: &str, columns: &str, upload: &str, help: &str) -> Markup {
    html! {
        section aria-labelledby="csv-h" {
            h2 #csv-h { "CSV" }
            p { a href={ (base) ".csv" } download { (download) } " " (columns) }
            form method="post" action={ (base) "/import" } enctype="multipart/form-data" {
                (layout::csrf(visitor))
                div.field {
                    label for="import-file" { (upload) }
                    input #import-file type="file" name="file" accept=".csv,text/csv" aria-describedby="import-help";
                    p.help #import-help { (help) }
                }
                button type="submit" { "Import" }
            }
        }
    }
}

impl Screen for directory::Contacts {
    const TITLE: &'static str = "Contacts";
    const ONE: &'static str = "contact";
    const ABOUT: &'static str = "The people who text this tenant, by number: their texts show their name and company.";
    const KEY_FIELD: &'static str = "id";
    const NAME_FIELD: &'static str = "name";
    const COLUMNS: &'static [(&'static str, &'static str)] =
        &[("Name", "name"), ("Number", "phone"), ("Company", "company_id")];
    const NEEDS: &'static [Lookup] = &[Lookup::Companies];

    fn fields(l: &Lookups) -> Vec<Field> {
        vec![
            Field::new("name", "Name", Kind::Text),
            Field::new("phone", "Number", Kind::Text).help("E.164 with its +, such as +12065550123."),
            Field::new("company_id", "Company", Kind::Choice { options: options(&l.companies), blank: Some("None") }),
        ]
    }

    fn list_more(base: &str, visitor: &Visitor) -> Markup {
        csv_section(
            base,
            visitor,
            "Download every contact as CSV",
            "(name, phone, company).",
            "Import contacts from a CSV file",
            "A first line naming the columns name, phone and (if wanted) company; up to 10,000 contacts. A phone the tenant has already updates that contact; companies are matched by name or made. If any line is refused, nothing is imported.",
        )
    }

    fn cell(field: &str, item: &Value, lookups: &Lookups) -> Markup {
        match field {
            "company_id" if item[field].is_null() => layout::none(),
            "company_id" => html! { (Lookups::name_of(&lookups.companies, &text(&item[field]))) },
            _ => html! { (text(&item[field])) },
        }
    }
}

/// The address of the page where an invitation is accepted.
fn invitation_link(item: &Value, public_url: &str) -> Vec<Once> {
    match item["invitation"]["token"].as_str() {
        Some(token) => vec![(
            "invitation",
            "The invitation link: send it to them by a channel you trust; it works once",
            format!("{public_url}/portal/invitation?token={token}"),
        )],
        None => Vec::new(),
    }
}

impl Screen for users::Users {
    const TITLE: &'static str = "People";
    const ONE: &'static str = "user";
    const ABOUT: &'static str = "The people who sign in to this tenant: its admins, and the users of its extensions. \
        A new user gets an invitation link (shown once) to choose their password.";
    const KEY_FIELD: &'static str = "id";
    const NAME_FIELD: &'static str = "name";
    const COLUMNS: &'static [(&'static str, &'static str)] =
        &[("Name", "name"), ("Email", "email"), ("Role", "role"), ("Extension", "extension"), ("Status", "status")];
    const NEEDS: &'static [Lookup] = &[Lookup::Extensions];

    fn fields(l: &Lookups) -> Vec<Field> {
        let roles = vec![
            ("tenant_admin".to_owned(), "Tenant admin".to_owned()),
            ("extension".to_owned(), "Extension user".to_owned()),
        ];
        vec![
            Field::new("email", "Email", Kind::Text).fixed_after_creation(),
            Field::new("name", "Name", Kind::Text),
            Field::new("role", "Role", Kind::Choice { options: roles, blank: None }).fixed_after_creation(),
            Field::new("extension", "Extension", Kind::Choice { options: options(&l.extensions), blank: Some("None") })
                .help("For an extension user: the extension they are.")
                .fixed_after_creation(),
            Field::new("disabled", "Disabled", Kind::Flag)
                .help("A disabled user signs in to nothing, and every session of theirs ends at once.")
                .change_only(),
        ]
    }

    fn values(item: &Value) -> Values {
        let mut item = item.clone();
        item["disabled"] = Value::Bool(item["status"] == "disabled");
        Values::of(&item)
    }

    fn once(item: &Value, public_url: &str) -> Vec<Once> {
        invitation_link(item, public_url)
    }

    fn cell(field: &str, item: &Value, _: &Lookups) -> Markup {
        match (field, item[field].as_str()) {
            ("role", Some("tenant_admin")) => html! { "tenant admin" },
            ("role", Some("extension")) => html! { "extension user" },
            ("status", Some("invited")) => html! { "invited (no password yet)" },
            _ => {
                let t = text(&item[field]);
                if t.is_empty() {
                    layout::none()
                } else {
                    html! { (t) }
                }
            }
        }
    }

    fn more(_item: &Value, base: &str, visitor: &Visitor, _lookups: &Lookups) -> Markup {
        html! {
            section aria-labelledby="invite-h" {
                h2 #invite-h { "Invitation" }
                p { "A new invitation lets them choose a password (a lost invitation, a forgotten password); the previous one stops working." }
                form method="post" action={ (base) "/invitation" } {
                    (layout::csrf(visitor))
                    button type="submit" { "Make a new invitation" }
                }
            }
        }
    }
}

/// Replaces a user's invitation and shows the new link, this once.
async fn reinvite(req: HttpRequest, state: web::Data<AppState>, sent: Submission) -> Result<HttpResponse, PortalError> {
    let scope = sent.visitor.tenant(&state, &req, false).await?;
    let slug = scope.tenant.slug.clone();
    let id = crate::routes::path_id(req.match_info().get("key").unwrap_or_default())?;
    let people = switchboard_store::users::People::Tenant(scope.tenant.id);
    let invited = crate::api::users::User::invited(state.store.reinvite_user(people, id).await?);
    crate::audit::record_portal(&state, &req, &sent.visitor.identity, Some(&slug), 200, Value::Null).await;
    let item = serde_json::to_value(&invited).map_err(|_| ApiError::internal())?;
    let once = invitation_link(&item, &state.public_url);
    let page = render_item::<users::Users>(&state, &sent.visitor, &scope, &item, Some("invited"), None, &once).await?;
    Ok(html(page))
}
