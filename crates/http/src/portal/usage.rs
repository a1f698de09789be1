//! The operator's view of what each tenant used in a month (texts, segments, failures, numbers),
//! on screen and as CSV for billing.

use actix_web::{HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::layout::{self, Frame};
use super::records::{cell, csv_download};
use super::session::Visitor;
use super::{PortalError, html};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::usage::{TenantUsage, month_bounds};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/usage", web::get().to(usage)).route("/usage.csv", web::get().to(export));
}

#[derive(Debug, Deserialize)]
struct MonthQuery {
    month: Option<String>,
}

/// The month asked for and every tenant's use in it; only the operator may look.
async fn load(
    visitor: &Visitor,
    state: &AppState,
    month: Option<&str>,
) -> Result<(String, Vec<TenantUsage>), PortalError> {
    if !visitor.is_operator() {
        return Err(ApiError::not_found().into());
    }
    let (month, since, until) = month_bounds(month)?;
    let rows = state.store.usage(since, until).await?.into_iter().map(TenantUsage::from).collect();
    Ok((month, rows))
}

async fn usage(
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<MonthQuery>,
) -> Result<HttpResponse, PortalError> {
    let (month, rows) = load(&visitor, &state, q.month.as_deref()).await?;
    let total = |f: fn(&TenantUsage) -> u64| rows.iter().map(f).sum::<u64>();
    Ok(html(layout::page(
        &format!("Usage in {month}"),
        Some(Frame { visitor: &visitor, tenant: None, current: "usage" }),
        html! {
            p.about { "Each tenant's texts and their segments (what Flowroute bills) in a calendar month, UTC, and the numbers it holds now." }
            form.filters method="get" action="/portal/usage" {
                div.field {
                    label for="month" { "Month" }
                    input #month type="month" name="month" value=(month);
                }
                button type="submit" { "Show" }
                a href={ "/portal/usage.csv?month=" (month) } download { "Download as CSV" }
            }
            @if rows.is_empty() {
                p { "No tenants yet." }
            } @else {
                div.table-wrap {
                    table {
                        caption.visually-hidden { "Usage by tenant in " (month) }
                        thead { tr {
                            th scope="col" { "Tenant" } th scope="col" { "Status" } th scope="col" { "Numbers" }
                            th scope="col" { "Texts in" } th scope="col" { "Segments in" }
                            th scope="col" { "Texts out" } th scope="col" { "Segments out" } th scope="col" { "Failed out" }
                        } }
                        tbody {
                            @for u in &rows {
                                tr {
                                    th scope="row" { a href={ "/portal/t/" (u.slug) "/" } { (u.name) } " (" (u.slug) ")" }
                                    td { (u.status) }
                                    td.n { (u.numbers) }
                                    td.n { (u.texts_in) } td.n { (u.segments_in) }
                                    td.n { (u.texts_out) } td.n { (u.segments_out) } td.n { (u.failed_out) }
                                }
                            }
                        }
                        tfoot { tr {
                            th scope="row" { "All tenants" } td {}
                            td.n { (total(|u| u.numbers)) }
                            td.n { (total(|u| u.texts_in)) } td.n { (total(|u| u.segments_in)) }
                            td.n { (total(|u| u.texts_out)) } td.n { (total(|u| u.segments_out)) } td.n { (total(|u| u.failed_out)) }
                        } }
                    }
                }
            }
        },
    )))
}

async fn export(
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<MonthQuery>,
) -> Result<HttpResponse, PortalError> {
    let (month, rows) = load(&visitor, &state, q.month.as_deref()).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header =
        ["tenant", "name", "status", "numbers", "texts_in", "segments_in", "texts_out", "segments_out", "failed_out"];
    out.write_record(header).map_err(|_| ApiError::internal())?;
    for u in rows {
        let row = [
            u.slug,
            u.name,
            u.status,
            u.numbers.to_string(),
            u.texts_in.to_string(),
            u.segments_in.to_string(),
            u.texts_out.to_string(),
            u.segments_out.to_string(),
            u.failed_out.to_string(),
        ];
        out.write_record(row.iter().map(|v| cell(v).into_owned())).map_err(|_| ApiError::internal())?;
    }
    csv_download(&format!("usage-{month}.csv"), out)
}
