//! Contacts in and out as CSV: an address book's export uploaded (through the API's own import:
//! all or nothing, phones updated in place), and the tenant's contacts downloaded.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use maud::html;
use switchboard_store::PageRequest;

use super::layout::{self, Frame};
use super::records::{cell, csv_download};
use super::session::{CSRF_FIELD, Visitor, uploader};
use super::{PortalError, html_status, see_other};
use crate::AppState;
use crate::api::directory::{ContactRow, ImportContacts};
use crate::error::ApiError;

/// Largest file taken (10,000 contacts of a few dozen characters fit well within it).
const MAX_FILE: usize = 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{tenant}/contacts.csv", web::get().to(export))
        .route("/t/{tenant}/contacts/import", web::post().to(import));
}

/// Every contact of the tenant, with its company's name.
async fn export(req: HttpRequest, visitor: Visitor, state: web::Data<AppState>) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let tenant = &scope.tenant;
    let mut companies = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = state.store.list_companies(tenant.id, PageRequest::parse(Some("200"), cursor.as_deref())?).await?;
        companies.extend(page.items.into_iter().map(|c| (c.id, c.name)));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
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

/// The refusal of an import, as a page that names each line.
fn refused(
    visitor: &Visitor,
    tenant: (&str, &str),
    problems: &[String],
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let page = layout::page(
        "Contacts not imported",
        Some(Frame { visitor, tenant: Some(tenant), current: "contacts" }),
        html! {
            div.errors role="alert" {
                p { "Nothing was imported:" }
                ul { @for p in problems { li { (p) } } }
            }
            p { a href={ "/portal/t/" (tenant.0) "/contacts" } { "Back to the contacts" } }
        },
    );
    html_status(status, page)
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

async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut body: Multipart,
) -> Result<HttpResponse, PortalError> {
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
    let visitor = uploader(&req, &token).await?;
    let scope = visitor.tenant(&state, &req, false).await?;
    let tenant = (scope.tenant.slug.as_str(), scope.tenant.name.as_str());
    let unprocessable = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Ok(refused(&visitor, tenant, &["choose a CSV file to import".to_owned()], unprocessable));
    };
    let rows = match read_rows(&file) {
        Ok(rows) => rows,
        Err(problem) => return Ok(refused(&visitor, tenant, &[problem], unprocessable)),
    };
    let count = rows.len();
    match crate::routes::directory::import(&state, scope.tenant.id, ImportContacts { rows }).await {
        Ok(done) => {
            let changes = serde_json::json!({"rows": count, "created": done.created, "updated": done.updated});
            crate::audit::record_portal(&state, &req, &visitor.identity, Some(tenant.0), 200, changes).await;
            Ok(see_other(&format!(
                "/portal/t/{}/contacts?done=imported&created={}&updated={}&companies={}",
                tenant.0, done.created, done.updated, done.companies_created
            )))
        }
        Err(e) if e.status() == unprocessable => {
            let mut problems: Vec<String> =
                e.field_errors().iter().map(|f| format!("{}: {}", line_of(&f.field), f.message)).collect();
            if problems.is_empty() {
                problems.push(e.detail().to_owned());
            }
            Ok(refused(&visitor, tenant, &problems, unprocessable))
        }
        Err(e) => Err(e.into()),
    }
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
    fn a_refusal_names_the_line_a_person_sees() {
        assert_eq!(line_of("rows[0].phone"), "line 2, phone");
        assert_eq!(line_of("rows[9]"), "line 11");
        assert_eq!(line_of("rows"), "rows");
    }
}
