//! The account side of the simulator: the numbers each account holds, the callbacks Flowroute posts
//! to (per account and per number), messaging provisioning, and message lookups — with Flowroute's
//! answers (`401` bad keys, `404` a number the account does not hold, `422` a bad body).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_flowroute::CallbackKind;

use crate::{Fault, Shared, State, authorised, error, nanp, new_hex};

/// A number an account holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimNumber {
    pub alias: Option<String>,
    pub messaging_enabled: bool,
    /// The number's own callbacks, by kind (they outrank the account's).
    pub callbacks: BTreeMap<CallbackKind, String>,
}

/// A messaging provisioning request.
pub(crate) struct Task {
    access_key: String,
    enable: bool,
    numbers: Vec<String>,
    failed: Vec<String>,
    done_at: Instant,
    /// Whether its numbers were changed already.
    applied: bool,
}

/// How long a provisioning request takes before its numbers change.
pub(crate) const PROVISION_TIME: Duration = Duration::from_millis(100);

type Data = web::Data<Arc<Shared>>;

impl State {
    /// Applies the provisioning requests whose time has come.
    pub(crate) fn settle(&mut self, now: Instant) {
        // In the order they were made: a later request wins.
        let mut done: Vec<(Instant, String, bool, Vec<String>)> = self
            .tasks
            .values_mut()
            .filter(|t| t.done_at <= now && !t.applied)
            .map(|t| {
                t.applied = true;
                (t.done_at, t.access_key.clone(), t.enable, t.numbers.clone())
            })
            .collect();
        done.sort_by_key(|d| d.0);
        let done = done.into_iter().map(|(_, a, e, n)| (a, e, n));
        for (access, enable, numbers) in done {
            for digits in numbers {
                if let Some(n) = self.numbers.get_mut(&(access.clone(), digits)) {
                    n.messaging_enabled = enable;
                }
            }
        }
    }

    /// The account that holds `digits`, and the number.
    pub(crate) fn owner(&self, digits: &str) -> Option<(&str, &SimNumber)> {
        self.numbers.iter().find(|((_, d), _)| d == digits).map(|((a, _), n)| (a.as_str(), n))
    }

    /// Where Flowroute posts `kind` for `digits`: the number's own callback, else its account's.
    pub(crate) fn callback_for(&self, digits: &str, kind: CallbackKind) -> Option<String> {
        let (access, number) = self.owner(digits)?;
        number.callbacks.get(&kind).cloned().or_else(|| self.account_callbacks.get(&(access.to_owned(), kind)).cloned())
    }
}

/// Takes an injected fault for the account API, or checks the keys: the access key, or the answer.
fn admit(req: &HttpRequest, shared: &Shared) -> Result<String, Box<HttpResponse>> {
    let fault = shared.state.lock().unwrap_or_else(|e| e.into_inner()).api_faults.pop_front();
    match fault {
        Some(Fault::TooMany) => return Err(Box::new(error(429, "Too Many Requests", "Injected by flowroute-sim"))),
        Some(Fault::ServerError | Fault::Timeout | Fault::LostAnswer) => {
            return Err(Box::new(error(500, "Internal Server Error", "Injected by flowroute-sim")));
        }
        Some(Fault::BadRequest) => return Err(Box::new(error(400, "Bad Request", "Injected by flowroute-sim"))),
        Some(Fault::Pass) | None => {}
    }
    authorised(req, &shared.config.accounts)
        .ok_or_else(|| Box::new(error(401, "Unauthorized", "Authentication failed.")))
}

fn number_json(base: &str, digits: &str, n: &SimNumber) -> Value {
    json!({"type": "number", "id": digits, "attributes": {
        "alias": n.alias, "cnam_lookups_enabled": false, "number_type": "standard", "rate_center": "washington",
        "state": "dc", "value": digits, "messaging_enabled": n.messaging_enabled},
        "links": {"self": format!("{base}/v2/numbers/{digits}")}})
}

fn api_json(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK))
        .content_type("application/vnd.api+json")
        .body(body.to_string())
}

#[derive(Deserialize)]
pub(crate) struct Paging {
    limit: Option<String>,
    offset: Option<String>,
}

impl Paging {
    /// `limit` (1 to 200, default 10) and `offset` (default 0), or Flowroute's `400`.
    fn read(&self) -> Result<(usize, usize), Box<HttpResponse>> {
        let limit = match self.limit.as_deref().map(str::parse::<usize>) {
            None => 10,
            Some(Ok(n)) if (1..=200).contains(&n) => n,
            Some(_) => return Err(Box::new(error(400, "Bad Request", "limit must be between 1 and 200."))),
        };
        let Ok(offset) = self.offset.as_deref().unwrap_or("0").parse::<usize>() else {
            return Err(Box::new(error(400, "Bad Request", "offset must be a whole number.")));
        };
        Ok((limit, offset))
    }
}

/// `GET /v2/numbers`: pages of at most 200.
pub(crate) async fn list_numbers(req: HttpRequest, q: web::Query<Paging>, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let (limit, offset) = match q.read() {
        Ok(paging) => paging,
        Err(res) => return *res,
    };
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    st.settle(Instant::now());
    let base = &shared.base;
    let held: Vec<Value> = st
        .numbers
        .iter()
        .filter(|((a, _), _)| *a == access)
        .skip(offset)
        .take(limit + 1)
        .map(|((_, d), n)| number_json(base, d, n))
        .collect();
    let more = held.len() > limit;
    let data: Vec<Value> = held.into_iter().take(limit).collect();
    let next = more.then(|| format!("{base}/v2/numbers?limit={limit}&offset={}", offset.saturating_add(limit)));
    api_json(
        200,
        &json!({"data": data, "links": {"self": format!("{base}/v2/numbers?limit={limit}&offset={offset}"), "next": next}}),
    )
}

/// `GET /v2/numbers/{digits}`.
pub(crate) async fn get_number(req: HttpRequest, path: web::Path<String>, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let digits = path.into_inner();
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    st.settle(Instant::now());
    match st.numbers.get(&(access, digits.clone())) {
        Some(n) => {
            let mut data = number_json(&shared.base, &digits, n);
            let mut relationships = json!({"cnam_preset": {"data": null}, "e911_address": {"data": null},
                                            "primary_route": {"data": null}, "failover_route": {"data": null}});
            // The number's own callbacks (a reading of ours: Flowroute documents no read of them).
            for (kind, url) in &n.callbacks {
                relationships[kind.as_str()] =
                    json!({"data": {"type": "callback", "attributes": {"callback_url": url}}});
            }
            data["relationships"] = relationships;
            api_json(200, &json!({"data": data, "included": []}))
        }
        None => error(404, "Not Found", "Number not found on this account."),
    }
}

/// The `callback_url` of a callback body, in the JSON:API form or the flat one.
fn callback_url(body: &[u8]) -> Result<String, Box<HttpResponse>> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(error(400, "Bad Request", "The body is not JSON.")));
    };
    let url = v["data"]["attributes"]["callback_url"].as_str().or_else(|| v["callback_url"].as_str());
    match url {
        Some(u) if (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048 => Ok(u.to_owned()),
        _ => Err(Box::new(error(422, "Unprocessable Entity", "callback_url must be an http or https URL."))),
    }
}

fn kind(req: &HttpRequest) -> Result<CallbackKind, Box<HttpResponse>> {
    let segment = req.match_info().get("kind").or_else(|| req.match_info().get("id"));
    CallbackKind::parse(segment.unwrap_or_default())
        .ok_or_else(|| Box::new(error(404, "Not Found", "No such callback type.")))
}

/// `PUT`, `GET` and `DELETE /v2.x/messages/{kind}`: the account's callbacks.
pub(crate) async fn account_callback(req: HttpRequest, body: web::Bytes, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let kind = match kind(&req) {
        Ok(k) => k,
        Err(res) => return *res,
    };
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    let key = (access, kind);
    match *req.method() {
        actix_web::http::Method::PUT => match callback_url(&body) {
            Ok(url) => {
                st.account_callbacks.insert(key, url);
                HttpResponse::NoContent().finish()
            }
            Err(res) => *res,
        },
        actix_web::http::Method::DELETE => {
            st.account_callbacks.remove(&key);
            HttpResponse::NoContent().finish()
        }
        _ => {
            let product = if matches!(kind, CallbackKind::Mms | CallbackKind::MmsDlr) { "mms" } else { "sms" };
            let url = st.account_callbacks.get(&key);
            api_json(
                200,
                &json!({"data": {"type": "callback", "attributes": {
                "api_version": "v2.2", "callback_url": url, "product": product}}}),
            )
        }
    }
}

/// `POST /v2/numbers/{digits}/relationships/{kind}`: one number's callback.
pub(crate) async fn number_callback(req: HttpRequest, body: web::Bytes, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let kind = match kind(&req) {
        Ok(k) => k,
        Err(res) => return *res,
    };
    let url = match callback_url(&body) {
        Ok(u) => u,
        Err(res) => return *res,
    };
    let digits = req.match_info().get("digits").unwrap_or_default().to_owned();
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    match st.numbers.get_mut(&(access, digits)) {
        Some(n) => {
            n.callbacks.insert(kind, url);
            HttpResponse::NoContent().finish()
        }
        None => error(404, "Not Found", "Number not found on this account."),
    }
}

fn task_json(id: &str, t: &Task, now: Instant) -> Value {
    let done = t.done_at <= now;
    let (successful, processing): (Vec<&String>, Vec<&String>) =
        if done { (t.numbers.iter().collect(), Vec::new()) } else { (Vec::new(), t.numbers.iter().collect()) };
    let status = match (done, t.numbers.is_empty()) {
        (_, true) => "failed",
        (true, false) => "completed",
        (false, false) => "processing",
    };
    json!({"data": {"type": "message_provisioning_status", "id": id, "attributes": {
        "status": status, "action": if t.enable { "enable" } else { "disable" },
        "successful": successful, "processing": processing, "failed": t.failed}}})
}

/// `POST /v2/message-provision`: enable or disable messaging on numbers.
pub(crate) async fn provision(req: HttpRequest, body: web::Bytes, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Bad Request", "The body is not JSON.");
    };
    let enable = match v["action"].as_str() {
        Some("enable") => true,
        Some("disable") => false,
        _ => return error(422, "Unprocessable Entity", "action must be enable or disable."),
    };
    let Some(list) = v["numbers"].as_array().filter(|l| !l.is_empty() && l.len() <= 1000) else {
        return error(422, "Unprocessable Entity", "numbers must list 1 to 1000 numbers.");
    };
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    let (mut numbers, mut failed) = (Vec::new(), Vec::new());
    for n in list {
        let digits = n.as_str().unwrap_or_default().trim_start_matches('+').to_owned();
        if nanp(&digits) && st.numbers.contains_key(&(access.clone(), digits.clone())) {
            numbers.push(digits);
        } else {
            failed.push(digits);
        }
    }
    let id = new_hex(12);
    let task =
        Task { access_key: access, enable, numbers, failed, done_at: Instant::now() + PROVISION_TIME, applied: false };
    let answer = task_json(&id, &task, Instant::now());
    st.tasks.insert(id, task);
    api_json(201, &answer)
}

/// `GET /v2/message-provision/status/{task}`.
pub(crate) async fn provision_status(req: HttpRequest, path: web::Path<String>, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let now = Instant::now();
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    st.settle(now);
    let id = path.into_inner();
    match st.tasks.get(&id).filter(|t| t.access_key == access) {
        Some(t) => api_json(200, &task_json(&id, t, now)),
        None => error(404, "Not Found", "No such provisioning task."),
    }
}

fn message_json(m: &crate::Accepted) -> Value {
    json!({"type": "message", "id": m.id, "attributes": {
        "to": m.to, "from": m.from, "body": m.body, "direction": "outbound", "is_mms": !m.media_urls.is_empty(),
        "status": "delivered", "timestamp": m.at.to_rfc3339(), "amount_nanodollars": 4000000,
        "message_type": "longcode", "message_encoding": 0}})
}

/// `GET /v2.1/messages/{id}`: a message the account sent (or, named by a callback type, the
/// account's callback).
pub(crate) async fn get_message(req: HttpRequest, path: web::Path<String>, shared: Data) -> HttpResponse {
    if CallbackKind::parse(path.as_str()).is_some() {
        return account_callback(req, web::Bytes::new(), shared).await;
    }
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let id = path.into_inner();
    let st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    match st.accepted.iter().find(|m| m.id == id && m.access_key == access) {
        Some(m) => api_json(200, &json!({"data": message_json(m)})),
        None => error(404, "Not Found", "No message with this id on this account."),
    }
}

#[derive(Deserialize)]
pub(crate) struct Window {
    start_date: Option<String>,
    end_date: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

/// `GET /v2.1/messages?start_date&end_date&limit&offset`: the account's messages in a window.
pub(crate) async fn list_messages(req: HttpRequest, q: web::Query<Window>, shared: Data) -> HttpResponse {
    let access = match admit(&req, &shared) {
        Ok(a) => a,
        Err(res) => return *res,
    };
    let time = |v: &Option<String>| {
        v.as_deref().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&chrono::Utc))
    };
    let (Some(start), end) = (time(&q.start_date), time(&q.end_date)) else {
        return error(400, "Bad Request", "start_date is required (RFC 3339).");
    };
    let end = end.unwrap_or_else(chrono::Utc::now);
    let (limit, offset) = match q.paging.read() {
        Ok(paging) => paging,
        Err(res) => return *res,
    };
    let st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    let data: Vec<Value> = st
        .accepted
        .iter()
        .filter(|m| m.access_key == access && m.at >= start && m.at <= end)
        .skip(offset)
        .take(limit)
        .map(message_json)
        .collect();
    api_json(200, &json!({"data": data}))
}

/// Registers the account API's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v2/numbers", web::get().to(list_numbers))
        .route("/v2/numbers/{digits}", web::get().to(get_number))
        .route("/v2/numbers/{digits}/relationships/{kind}", web::post().to(number_callback))
        .route("/v2/message-provision", web::post().to(provision))
        .route("/v2/message-provision/status/{task}", web::get().to(provision_status))
        .route("/v2.1/messages/{id}", web::get().to(get_message))
        .route("/v2.1/messages", web::get().to(list_messages));
    for version in ["v2.1", "v2.2"] {
        cfg.route(
            &format!("/{version}/messages/{{kind}}"),
            web::route()
                .guard(actix_web::guard::Any(actix_web::guard::Put()).or(actix_web::guard::Delete()))
                .to(account_callback),
        );
    }
    cfg.route("/v2.2/messages/{kind}", web::get().to(account_callback));
}
