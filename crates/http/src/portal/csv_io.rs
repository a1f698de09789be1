//! Contacts and companies in and out as CSV: an address book's export uploaded (through the API's
//! own imports: all or nothing, phones updated in place, companies matched by name), and the
//! tenant's contacts and companies downloaded.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use maud::html;
use switchboard_store::PageRequest;

use super::layout::{self, Frame};
use super::records::{cell, csv_download};
use super::session::{CSRF_FIELD, Visitor, uploader};
use super::{PortalError, html_status, see_other};
use crate::AppState;
use crate::api::directory::{CompanyRow, ContactRow, ImportCompanies, ImportContacts};
use crate::auth::TenantScope;
use crate::error::ApiError;

/// Largest file taken (10,000 contacts of a few dozen characters fit well within it).
const MAX_FILE: usize = 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{tenant}/contacts.csv", web::get().to(export))
        .route("/t/{tenant}/contacts/import", web::post().to(import))
        .route("/t/{tenant}/companies.csv", web::get().to(export_companies))
        .route("/t/{tenant}/companies/import", web::post().to(import_companies));
}

/// Every company of the tenant, by id.
async fn companies_of(state: &AppState, tenant: uuid::Uuid) -> Result<Vec<(uuid::Uuid, String)>, PortalError> {
    let mut companies = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = state.store.list_companies(tenant, PageRequest::parse(Some("200"), cursor.as_deref())?).await?;
        companies.extend(page.items.into_iter().map(|c| (c.id, c.name)));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(companies);
        }
    }
}

/// Every company of the tenant, with how many of its contacts belong to each.
async fn export_companies(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let tenant = &scope.tenant;
    let companies = companies_of(&state, tenant.id).await?;
    let mut members: std::collections::HashMap<uuid::Uuid, usize> = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = state.store.list_contacts(tenant.id, PageRequest::parse(Some("200"), cursor.as_deref())?).await?;
        for id in page.items.into_iter().filter_map(|c| c.company_id) {
            *members.entry(id).or_default() += 1;
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["name", "contacts"]).map_err(|_| ApiError::internal())?;
    for (id, name) in companies {
        let n = members.get(&id).copied().unwrap_or(0).to_string();
        out.write_record([cell(&name).as_ref(), n.as_str()]).map_err(|_| ApiError::internal())?;
    }
    csv_download(&format!("companies-{}.csv", tenant.slug), out)
}

/// Every contact of the tenant, with its company's name.
async fn export(req: HttpRequest, visitor: Visitor, state: web::Data<AppState>) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let tenant = &scope.tenant;
    let companies: std::collections::HashMap<_, _> = companies_of(&state, tenant.id).await?.into_iter().collect();
    let mut cursor: Option<String> = None;
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["name", "phone", "company"]).map_err(|_| ApiError::internal())?;
    loop {
        let page = state.store.list_contacts(tenant.id, PageRequest::parse(Some("200"), cursor.as_deref())?).await?;
        for c in page.items {
            let company = c.company_id.and_then(|id| companies.get(&id)).cloned().unwrap_or_default();
            out.write_record([cell(&c.name).as_ref(), &c.phone, cell(&company).as_ref()])
                .map_err(|_| ApiError::internal())?;
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    csv_download(&format!("contacts-{}.csv", tenant.slug), out)
}

/// A form field's bytes, at most `max`.
async fn field_bytes(field: &mut actix_multipart::Field, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| ApiError::malformed("The upload could not be read."))?;
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::too_large(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Reads contacts from CSV: a header row naming `name` and `phone` (and, if wanted, `company`),
/// in any order and case.
fn read_rows(file: &[u8]) -> Result<Vec<ContactRow>, String> {
    let text = std::str::from_utf8(file.strip_prefix(b"\xef\xbb\xbf").unwrap_or(file))
        .map_err(|_| "the file is not UTF-8 text; save it from the spreadsheet as “CSV UTF-8”".to_owned())?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("the file's first line could not be read: {e}"))?.clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let (Some(name), Some(phone)) = (column(&["name"]), column(&["phone", "number", "phone number"])) else {
        return Err("the first line must name the columns: name, phone and (if wanted) company".to_owned());
    };
    let company = column(&["company"]);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {} could not be read: {e}", i + 2))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |c: usize| record.get(c).unwrap_or_default().to_owned();
        out.push(ContactRow {
            name: get(name),
            phone: get(phone),
            company: company.map(get).filter(|c| !c.is_empty()),
        });
    }
    Ok(out)
}

/// What is imported: contacts or companies (the screen's path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Contacts,
    Companies,
}

impl What {
    fn path(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
        }
    }
}

/// The refusal of an import (`422`), as a page that names each line.
fn refused(visitor: &Visitor, tenant: (&str, &str), what: What, problems: &[String]) -> HttpResponse {
    let page = layout::page(
        &format!("{} not imported", if what == What::Contacts { "Contacts" } else { "Companies" }),
        Some(Frame { visitor, tenant: Some(tenant), current: what.path() }),
        html! {
            div.errors role="alert" {
                p { "Nothing was imported:" }
                ul { @for p in problems { li { (p) } } }
            }
            p { a href={ "/portal/t/" (tenant.0) "/" (what.path()) } { "Back to the " (what.path()) } }
        },
    );
    html_status(StatusCode::UNPROCESSABLE_ENTITY, page)
}

/// Reads a CSV of companies: a header row naming `name` (or `company`).
fn read_companies(file: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(file.strip_prefix(b"\xef\xbb\xbf").unwrap_or(file))
        .map_err(|_| "the file is not UTF-8 text; save it from the spreadsheet as “CSV UTF-8”".to_owned())?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("the file's first line could not be read: {e}"))?.clone();
    let Some(name) = headers.iter().position(|h| h.eq_ignore_ascii_case("name") || h.eq_ignore_ascii_case("company"))
    else {
        return Err("the first line must name the column: name".to_owned());
    };
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {} could not be read: {e}", i + 2))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        out.push(record.get(name).unwrap_or_default().to_owned());
    }
    Ok(out)
}

/// An upload's CSRF token and file, read from its multipart body, and who sent it.
async fn upload(req: &HttpRequest, mut body: Multipart) -> Result<(Visitor, Option<Vec<u8>>), PortalError> {
    let (mut token, mut file) = (String::new(), None::<Vec<u8>>);
    while let Some(field) = body.next().await {
        let mut field = field.map_err(|_| ApiError::malformed("The upload could not be read."))?;
        match field.name() {
            Some(CSRF_FIELD) => token = String::from_utf8_lossy(&field_bytes(&mut field, 256).await?).into_owned(),
            Some("file") => file = Some(field_bytes(&mut field, MAX_FILE).await?),
            _ => {
                field_bytes(&mut field, MAX_FILE).await?;
            }
        }
    }
    Ok((uploader(req, &token).await?, file.filter(|f| !f.is_empty())))
}

/// The problems of a refused import, each with the line a person sees.
fn problems_of(e: &ApiError) -> Vec<String> {
    let mut problems: Vec<String> =
        e.field_errors().iter().map(|f| format!("{}: {}", line_of(&f.field), f.message)).collect();
    if problems.is_empty() {
        problems.push(e.detail().to_owned());
    }
    problems
}

/// An upload's visitor, tenant and rows as `read` finds them in its file; or the page refusing
/// it (no file, or one `read` cannot take).
async fn rows_of<T>(
    req: &HttpRequest,
    state: &AppState,
    body: Multipart,
    what: What,
    read: fn(&[u8]) -> Result<T, String>,
) -> Result<Result<(Visitor, TenantScope, T), HttpResponse>, PortalError> {
    let (visitor, file) = upload(req, body).await?;
    let scope = visitor.tenant(state, req, false).await?;
    let tenant = (scope.tenant.slug.as_str(), scope.tenant.name.as_str());
    let problem = match file.as_deref().map(read) {
        Some(Ok(rows)) => return Ok(Ok((visitor, scope, rows))),
        Some(Err(problem)) => problem,
        None => "choose a CSV file to import".to_owned(),
    };
    Ok(Err(refused(&visitor, tenant, what, &[problem])))
}

/// What an import answered: the list it changed, with a notice of what it did; or the page
/// refusing it, each problem on its line.
async fn imported(
    req: &HttpRequest,
    state: &AppState,
    visitor: &Visitor,
    scope: &TenantScope,
    what: What,
    outcome: Result<(serde_json::Value, String), ApiError>,
) -> Result<HttpResponse, PortalError> {
    let tenant = (scope.tenant.slug.as_str(), scope.tenant.name.as_str());
    match outcome {
        Ok((changes, query)) => {
            crate::audit::record_portal(state, req, &visitor.identity, Some(tenant.0), 200, changes).await;
            Ok(see_other(&format!("/portal/t/{}/{}?{query}", tenant.0, what.path())))
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            Ok(refused(visitor, tenant, what, &problems_of(&e)))
        }
        Err(e) => Err(e.into()),
    }
}

async fn import_companies(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Multipart,
) -> Result<HttpResponse, PortalError> {
    let (visitor, scope, names) = match rows_of(&req, &state, body, What::Companies, read_companies).await? {
        Ok(read) => read,
        Err(refusal) => return Ok(refusal),
    };
    let count = names.len();
    let rows = names.into_iter().map(|name| CompanyRow { name }).collect();
    let outcome = crate::routes::directory::import_company_rows(&state, scope.tenant.id, ImportCompanies { rows })
        .await
        .map(|done| {
            let changes = serde_json::json!({"rows": count, "created": done.created, "existing": done.existing});
            (changes, format!("done=companies-imported&created={}&existing={}", done.created, done.existing))
        });
    imported(&req, &state, &visitor, &scope, What::Companies, outcome).await
}

/// A refusal's field path (`rows[3].phone`) as a person reads it (`line 5, phone`).
fn line_of(field: &str) -> String {
    let parsed = field
        .strip_prefix("rows[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?, rest.trim_start_matches('.'))));
    match parsed {
        Some((i, column)) if !column.is_empty() => format!("line {}, {column}", i + 2),
        Some((i, _)) => format!("line {}", i + 2),
        None => field.to_owned(),
    }
}

async fn import(req: HttpRequest, state: web::Data<AppState>, body: Multipart) -> Result<HttpResponse, PortalError> {
    let (visitor, scope, rows) = match rows_of(&req, &state, body, What::Contacts, read_rows).await? {
        Ok(read) => read,
        Err(refusal) => return Ok(refusal),
    };
    let count = rows.len();
    let outcome =
        crate::routes::directory::import(&state, scope.tenant.id, ImportContacts { rows }).await.map(|done| {
            let changes = serde_json::json!({"rows": count, "created": done.created, "updated": done.updated});
            let query = format!(
                "done=imported&created={}&updated={}&companies={}",
                done.created, done.updated, done.companies_created
            );
            (changes, query)
        });
    imported(&req, &state, &visitor, &scope, What::Contacts, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_is_read_by_its_header_in_any_order_and_case() {
        let file =
            "\u{feff}Company,PHONE,Name,notes\nDoe Plumbing,(206) 555-0123,Pat Doe,x\n,,,\n, +12065550124 ,Ann,\n";
        let rows = read_rows(file.as_bytes()).unwrap_or_default();
        assert_eq!(rows.len(), 2, "the blank line is skipped");
        assert_eq!((rows[0].name.as_str(), rows[0].phone.as_str()), ("Pat Doe", "(206) 555-0123"));
        assert_eq!(rows[0].company.as_deref(), Some("Doe Plumbing"));
        assert_eq!((rows[1].phone.as_str(), rows[1].company.as_deref()), ("+12065550124", None));
        assert!(read_rows(b"first,last\nA,B\n").is_err(), "no name and phone columns");
        assert!(read_rows(b"name,phone\n\xff\xfe\n").is_err(), "not UTF-8");
    }

    #[test]
    fn a_csv_of_companies_is_read_by_its_name_column() {
        let names = read_companies(b"id,Name\n1,Doe Plumbing\n,\n2, Acme \n").unwrap_or_default();
        assert_eq!(names, vec!["Doe Plumbing".to_owned(), "Acme".to_owned()]);
        assert_eq!(read_companies(b"Company\nGlobex\n").unwrap_or_default(), vec!["Globex".to_owned()]);
        assert!(read_companies(b"title\nx\n").is_err(), "no name column");
    }

    #[test]
    fn a_refusal_names_the_line_a_person_sees() {
        assert_eq!(line_of("rows[0].phone"), "line 2, phone");
        assert_eq!(line_of("rows[9]"), "line 11");
        assert_eq!(line_of("rows"), "rows");
    }
}
