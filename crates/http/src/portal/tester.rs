//! The route tester: "a text from X to Y saying Z at time T" — which rule routes it, to which
//! extensions, and what is sent back — decided by the same `routing::route` the ingress uses.

use std::str::FromStr;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, TimeZone, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_core::E164;
use switchboard_core::routing::{OptOutChange, Reply, RouteInput, RouteReason, route};

use super::layout::{self, Frame};
use super::screens::{Lookup, Lookups};
use super::session::Visitor;
use super::{PortalError, html, html_status};
use crate::AppState;
use crate::routes::numbers::Numbers;
use crate::routes::policies::Policies;
use crate::routes::resource::Resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{tenant}/route-tester", web::get().to(tester));
}

/// The question, as the form asks it (a GET form: a tested route can be bookmarked and shared).
#[derive(Debug, Default, Deserialize)]
struct Question {
    number: Option<String>,
    from: Option<String>,
    text: Option<String>,
    /// `YYYY-MM-DDTHH:MM`, in the number's policy's time zone (UTC without a policy).
    at: Option<String>,
}

/// A refusal of one of the form's fields.
struct Refusal {
    field: &'static str,
    message: String,
}

async fn tester(
    req: HttpRequest,
    visitor: Visitor,
    state: web::Data<AppState>,
    q: web::Query<Question>,
) -> Result<HttpResponse, PortalError> {
    let scope = visitor.tenant(&state, &req, true).await?;
    let slug = scope.tenant.slug.clone();
    let tenant = &scope.tenant;
    let q = q.into_inner();
    let numbers = Lookups::load(&state, tenant, &[Lookup::Numbers]).await?.numbers;
    let asked = q.number.is_some();
    let (answer, refusals) = if asked { decide(&state, tenant.id, &q).await? } else { (None, Vec::new()) };
    let error_of = |name: &str| refusals.iter().find(|r| r.field == name).map(|r| r.message.clone());
    let field = |name: &'static str, label: &str, input: Markup| {
        let error = error_of(name);
        html! {
            div.field {
                label for=(name) { (label) }
                (input)
                @if let Some(e) = error { p.field-error id={ (name) "-error" } { (e) } }
            }
        }
    };
    let invalid = |name: &str| error_of(name).map(|_| "true");
    let described = |name: &str| error_of(name).map(|_| format!("{name}-error"));
    let page = layout::page(
        "Route tester",
        Some(Frame { visitor: &visitor, tenant: Some((&tenant.slug, &tenant.name)), current: "route-tester" }),
        html! {
            p.about { "Ask what would happen to a text: which rule routes it, to which extensions, and what is sent back. Nothing is sent or recorded." }
            form.fields method="get" action={ "/portal/t/" (slug) "/route-tester" } {
                (field("number", "To our number", html! {
                    select #number name="number" aria-invalid=[invalid("number")] aria-describedby=[described("number")] {
                        @for (value, label) in &numbers {
                            option value=(value) selected[q.number.as_deref() == Some(value.as_str())] { (label) }
                        }
                    }
                }))
                (field("from", "From", html! {
                    input #from type="text" name="from" value=(q.from.clone().unwrap_or_default()) placeholder="+12065550123"
                          aria-invalid=[invalid("from")] aria-describedby=[described("from")];
                }))
                (field("text", "Saying", html! {
                    textarea #text name="text" rows="2" { (q.text.clone().unwrap_or_default()) }
                }))
                (field("at", "At (in the number's policy's time zone; blank: now)", html! {
                    input #at type="datetime-local" name="at" value=(q.at.clone().unwrap_or_default())
                          aria-invalid=[invalid("at")] aria-describedby=[described("at")];
                }))
                button type="submit" { "Test the route" }
            }
            @if let Some(a) = answer { (a) }
        },
    );
    if refusals.is_empty() {
        Ok(html(page))
    } else {
        Ok(html_status(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, page))
    }
}

/// The decision for the question, in words; or what is wrong with the question.
async fn decide(
    state: &AppState,
    tenant: uuid::Uuid,
    q: &Question,
) -> Result<(Option<Markup>, Vec<Refusal>), PortalError> {
    let mut refusals = Vec::new();
    let number = match Numbers::get(state, tenant, q.number.clone().unwrap_or_default()).await {
        Ok(n) => Some(n),
        Err(e) if e.status().as_u16() == 404 => {
            refusals.push(Refusal { field: "number", message: "choose one of the tenant's numbers".into() });
            None
        }
        Err(e) => return Err(e.into()),
    };
    let from = q.from.as_deref().unwrap_or_default().trim();
    if let Err(e) = E164::parse(from) {
        refusals.push(Refusal { field: "from", message: e.to_string() });
    }
    let Some(number) = number else { return Ok((None, refusals)) };
    let policy = match number.policy_id {
        Some(id) => Some(Policies::get(state, tenant, id).await?.spec),
        None => None,
    };
    let zone = policy.as_ref().and_then(|p| chrono_tz::Tz::from_str(&p.timezone).ok()).unwrap_or(chrono_tz::UTC);
    let now = match q.at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Some(Utc::now()),
        Some(at) => NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|local| zone.from_local_datetime(&local).earliest())
            .map(|t| t.with_timezone(&Utc)),
    };
    let Some(now) = now else {
        refusals.push(Refusal {
            field: "at",
            message: format!("must be a date and time, such as 2026-12-07T09:30, that exists in {zone}"),
        });
        return Ok((None, refusals));
    };
    if !refusals.is_empty() {
        return Ok((None, refusals));
    }
    let text = q.text.as_deref().unwrap_or_default();
    let decision = route(RouteInput {
        number_destinations: &number.destinations,
        policy: policy.as_ref(),
        body: Some(text),
        now,
        last_auto_reply: None,
    });
    let local = now.with_timezone(&zone).format("%A %Y-%m-%d %H:%M %Z").to_string();
    let answer = html! {
        section.answer aria-labelledby="answer-h" aria-live="polite" {
            h2 #answer-h { "What would happen" }
            dl.details {
                dt { "When" } dd { (local) }
                dt { "Policy" } dd { (policy.as_ref().map_or("none (always open, no rules)", |p| p.name.as_str())) }
                dt { "Rule" } dd { (match &decision.reason {
                    RouteReason::Keyword { keyword } => format!("the keyword rule {keyword}"),
                    RouteReason::AfterHours => "after hours".to_owned(),
                    RouteReason::Default => if policy.is_some() { "business hours: the number's destinations".to_owned() } else { "the number's destinations".to_owned() },
                }) }
                dt { "Extensions" } dd { @if decision.destinations.is_empty() { "none" } @else { (decision.destinations.join(", ")) } }
                dt { "Compliance keyword" } dd { (decision.keyword.unwrap_or("none")) }
                dt { "Opt-out list" } dd { (match decision.opt_out {
                    Some(OptOutChange::OptOut { all_numbers: true }) => "the sender opts out of every number of the tenant",
                    Some(OptOutChange::OptOut { all_numbers: false }) => "the sender opts out of this number",
                    Some(OptOutChange::OptIn) => "the sender opts back in",
                    None => "unchanged",
                }) }
                dt { "Sent back" } dd {
                    @if decision.replies.is_empty() { "nothing" }
                    @for r in &decision.replies {
                        p { @match r {
                            Reply::AutoReply { body } => { "the after-hours auto-reply: “" (body) "”" },
                            Reply::Help { body } => { "the HELP reply: “" (body) "”" },
                        } }
                    }
                }
            }
            p.help { "Automatic replies go at most once a day to one sender from one number; the tester assumes none was sent yet." }
        }
    };
    Ok((Some(answer), Vec::new()))
}
