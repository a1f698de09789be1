//! `flowroute-sim`: a stand-in for Flowroute's messaging API, for tests, benchmarks and the demo.
//!
//! It accepts `POST /v2.2/messages` as Flowroute does — Basic auth checked against its accounts,
//! JSON:API bodies, 11-digit NANP numbers, MMS with media, 5 SMS/s and 1 MMS/s per access key (429
//! past that) — answers `202` with an `mdr2-` id, records what it accepted, fails on demand (the
//! next N requests 429, 500, 400 or no answer), and posts level-1 and level-2 delivery receipts to
//! each message's `dlr_callback`. [`post_inbound`] posts an inbound text in either of Flowroute's
//! formats, as Flowroute would.

mod account;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
pub use switchboard_flowroute::CallbackKind;

pub use account::SimNumber;

/// Flowroute's limit on the total size of one MMS, in bytes.
pub const MMS_LIMIT: usize = switchboard_flowroute::MMS_MAX_BYTES;

/// A failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// No fault: the request is handled as usual. Queued before another, it makes that one hit a
    /// later request (three `Pass`, then `LostAnswer`: the fourth request's answer is lost).
    Pass,
    /// `429 Too Many Requests`.
    TooMany,
    /// `500 Internal Server Error`.
    ServerError,
    /// `400 Bad Request`.
    BadRequest,
    /// No answer for [`SimConfig::stall`] (the client times out); nothing is sent.
    Timeout,
    /// The message is accepted — recorded, receipts posted — but the answer is lost: no answer
    /// for [`SimConfig::stall`], then `504`. The sender cannot know it was sent.
    LostAnswer,
}

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Access key → secret key.
    pub accounts: Vec<(String, String)>,
    /// Enforce Flowroute's 5 SMS/s and 1 MMS/s per access key.
    pub rate_limits: bool,
    /// Post delivery receipts to `dlr_callback`.
    pub receipts: bool,
    /// Wait before each receipt.
    pub receipt_delay: Duration,
    /// The share of sends, 0 to 1, that fail at random — 429, 500 or no answer, equally often —
    /// besides the faults injected one by one.
    pub failure_rate: f64,
    /// How long a [`Fault::Timeout`] holds the request before answering `504`.
    pub stall: Duration,
    /// A receipt the callback did not take (no `2xx`) is posted again this many times…
    pub receipt_retries: u32,
    /// …this far apart (Flowroute: four more times, 30 s apart).
    pub receipt_retry_interval: Duration,
    /// Numbers the accounts hold: (access key, 11 digits, messaging enabled).
    pub numbers: Vec<(String, String, bool)>,
    /// Refuse a send whose `from` is not a messaging-enabled number of the sending account, as
    /// Flowroute does (off by default, for tests that never tell the simulator their numbers).
    pub strict_numbers: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            accounts: vec![("sim-access".into(), "sim-secret".into())],
            rate_limits: true,
            receipts: true,
            receipt_delay: Duration::from_millis(200),
            failure_rate: 0.0,
            stall: Duration::from_secs(60),
            receipt_retries: 4,
            receipt_retry_interval: Duration::from_secs(30),
            numbers: Vec::new(),
            strict_numbers: false,
        }
    }
}

/// A send the simulator accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub id: String,
    pub access_key: String,
    pub to: String,
    pub from: String,
    pub body: Option<String>,
    pub media_urls: Vec<String>,
    /// What the simulator fetched from each of `media_urls`, as Flowroute fetches them.
    pub media_fetched: Vec<FetchedMedia>,
    pub dlr_callback: Option<String>,
    /// Milliseconds since the simulator started.
    pub at_ms: u128,
    /// When it was accepted.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The request body exactly as received.
    pub raw: String,
}

/// An attachment the simulator fetched for a send.
#[derive(Debug, Clone, Serialize)]
pub struct FetchedMedia {
    pub url: String,
    pub content_type: Option<String>,
    pub size: usize,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

#[derive(Default)]
struct State {
    accepted: Vec<Accepted>,
    requests: usize,
    faults: VecDeque<Fault>,
    /// Faults for the account API's next requests.
    api_faults: VecDeque<Fault>,
    recent: HashMap<(String, bool), VecDeque<Instant>>,
    /// (access key, digits) → the number.
    numbers: BTreeMap<(String, String), SimNumber>,
    /// (access key, kind) → the account's callback.
    account_callbacks: HashMap<(String, CallbackKind), String>,
    tasks: HashMap<String, account::Task>,
    /// Where a public URL is really reached: (public base, actual base), as DNS and a proxy would.
    routes: Vec<(String, String)>,
}

impl State {
    /// `url` as it is reached: a public base replaced by where it really listens.
    fn routed(&self, url: &str) -> String {
        self.routes
            .iter()
            .find_map(|(public, actual)| url.strip_prefix(public.as_str()).map(|rest| format!("{actual}{rest}")))
            .unwrap_or_else(|| url.to_owned())
    }
}

struct Shared {
    /// The simulator's base URL.
    base: String,
    config: SimConfig,
    state: Mutex<State>,
    started: Instant,
    http: reqwest::Client,
    /// While true, sends wait before being looked at (see [`Sim::hold`]).
    held: tokio::sync::watch::Sender<bool>,
}

/// A running simulator.
#[derive(Clone)]
pub struct Sim {
    /// Base URL, such as `http://127.0.0.1:8585`; sends go to `<url>/v2.2/messages`.
    pub url: String,
    shared: Arc<Shared>,
    handle: ServerHandle,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("url", &self.url).finish_non_exhaustive()
    }
}

fn error(status: u16, title: &str, detail: &str) -> HttpResponse {
    let body = json!({"errors": [{"id": new_hex(16), "status": status, "title": title, "detail": detail}]});
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .content_type("application/vnd.api+json")
    .body(body.to_string())
}

fn random_fault(rate: f64) -> Option<Fault> {
    use rand::Rng;
    let mut rng = rand::rng();
    if rate <= 0.0 || !rng.random_bool(rate.min(1.0)) {
        return None;
    }
    Some([Fault::TooMany, Fault::ServerError, Fault::Timeout][rng.random_range(0..3)])
}

fn new_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn nanp(n: &str) -> bool {
    n.len() == 11 && n.starts_with('1') && n.bytes().all(|b| b.is_ascii_digit())
}

fn authorised(req: &HttpRequest, accounts: &[(String, String)]) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    accounts.iter().any(|(a, s)| a == user && s == pass).then(|| user.to_owned())
}

async fn send(req: HttpRequest, body: web::Bytes, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    // Closed sender is impossible (Shared owns it); waiting fails only then.
    let _ = shared.held.subscribe().wait_for(|held| !*held).await;
    let fault = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests += 1;
        st.faults.pop_front().or_else(|| random_fault(shared.config.failure_rate))
    };
    let lose_answer = fault == Some(Fault::LostAnswer);
    match fault {
        Some(Fault::TooMany) => return error(429, "Too Many Requests", "Injected by flowroute-sim"),
        Some(Fault::ServerError) => return error(500, "Internal Server Error", "Injected by flowroute-sim"),
        Some(Fault::BadRequest) => return error(400, "Bad Request", "Injected by flowroute-sim"),
        Some(Fault::Timeout) => {
            tokio::time::sleep(shared.config.stall).await;
            return error(504, "Gateway Timeout", "Injected by flowroute-sim");
        }
        Some(Fault::LostAnswer | Fault::Pass) | None => {}
    }
    let Some(access_key) = authorised(&req, &shared.config.accounts) else {
        return error(401, "Unauthorized", "Authentication failed.");
    };
    let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/vnd.api+json") && !ct.starts_with("application/json") {
        return error(415, "Unsupported Media Type", "Use application/vnd.api+json.");
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Bad Request", "The body is not JSON.");
    };
    let a = &v["data"]["attributes"];
    let text = |k: &str| a[k].as_str().map(str::to_owned);
    let (Some(to), Some(from)) = (text("to"), text("from")) else {
        return error(422, "Unprocessable Entity", "to and from are required.");
    };
    if !nanp(&to) || !nanp(&from) {
        return error(422, "Unprocessable Entity", "to and from must be 11-digit NANP numbers.");
    }
    let media_urls: Vec<String> = a["media_urls"]
        .as_array()
        .map(|l| l.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let is_mms = a["is_mms"].as_bool().unwrap_or(false) || !media_urls.is_empty();
    let body_text = text("body");
    if body_text.is_none() && media_urls.is_empty() {
        return error(422, "Unprocessable Entity", "A body or media_urls is required.");
    }
    let mut media_fetched = Vec::with_capacity(media_urls.len());
    if is_mms {
        // As Flowroute does: fetch each attachment and refuse the message if one is too large.
        for url in &media_urls {
            match shared.http.get(url).send().await {
                Ok(r) if r.status().is_success() => {
                    let content_type =
                        r.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let Ok(bytes) = r.bytes().await else {
                        return error(422, "Unprocessable Entity", &format!("Error fetching media: \"{url}\""));
                    };
                    if bytes.len() > MMS_LIMIT {
                        let detail = format!("Error fetching media: File at \"{url}\" is over {MMS_LIMIT} byte limit.");
                        return error(422, "Unprocessable Entity", &detail);
                    }
                    let sha256 = sha256_hex(&bytes);
                    media_fetched.push(FetchedMedia { url: url.clone(), content_type, size: bytes.len(), sha256 });
                }
                _ => return error(422, "Unprocessable Entity", &format!("Error fetching media: \"{url}\"")),
            }
        }
    }
    let now = Instant::now();
    let (accepted, receipts_to) = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if shared.config.strict_numbers
            && !st.numbers.get(&(access_key.clone(), from.clone())).is_some_and(|n| n.messaging_enabled)
        {
            return error(403, "Forbidden", "The from number is not a messaging-enabled number of this account.");
        }
        if shared.config.rate_limits {
            let window = st.recent.entry((access_key.clone(), is_mms)).or_default();
            while window.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
                window.pop_front();
            }
            if window.len() >= if is_mms { 1 } else { 5 } {
                return error(429, "Too Many Requests", "Rate limit exceeded.");
            }
            window.push_back(now);
        }
        let id = format!("mdr2-{}", new_hex(16));
        let accepted = Accepted {
            id,
            access_key,
            to,
            from,
            body: body_text,
            media_urls,
            media_fetched,
            dlr_callback: text("dlr_callback"),
            at_ms: now.duration_since(shared.started).as_millis(),
            at: chrono::Utc::now(),
            raw: String::from_utf8_lossy(&body).into_owned(),
        };
        st.accepted.push(accepted.clone());
        // The message's own callback, else the sending number's, else its account's.
        let kind = if is_mms { CallbackKind::MmsDlr } else { CallbackKind::SmsDlr };
        let receipts_to =
            accepted.dlr_callback.clone().or_else(|| st.callback_for(&accepted.from, kind)).map(|u| st.routed(&u));
        (accepted, receipts_to)
    };
    if shared.config.receipts
        && let Some(url) = receipts_to
    {
        let shared = shared.get_ref().clone();
        let id = accepted.id.clone();
        let body = accepted.body.clone();
        actix_web::rt::spawn(async move {
            for (level, status, code, description) in [
                (1, "smsc submit", Value::Null, "Message has been sent"),
                (2, "delivered", json!(1004), "Message delivered to handset"),
            ] {
                tokio::time::sleep(shared.config.receipt_delay).await;
                let receipt = json!({"data": {"id": id, "type": "delivery_receipt", "attributes": {
                    "level": level, "status": status, "status_code": code, "status_code_description": description,
                    "body": body, "timestamp": chrono::Utc::now().to_rfc3339()}}});
                for attempt in 0..=shared.config.receipt_retries {
                    if attempt > 0 {
                        tokio::time::sleep(shared.config.receipt_retry_interval).await;
                    }
                    let sent = shared.http.post(&url).json(&receipt).send().await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        break;
                    }
                }
            }
        });
    }
    if lose_answer {
        tokio::time::sleep(shared.config.stall).await;
        return error(504, "Gateway Timeout", "Injected by flowroute-sim after accepting the message");
    }
    let payload = json!({"data": {"links": {"self": format!("https://api.flowroute.com/v2.2/messages/{}", accepted.id)},
                                  "type": "message", "id": accepted.id}});
    HttpResponse::Accepted().content_type("application/vnd.api+json").body(payload.to_string())
}

async fn received(shared: web::Data<Arc<Shared>>) -> HttpResponse {
    let st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    HttpResponse::Ok().json(json!({"requests": st.requests, "accepted": st.accepted}))
}

#[derive(Deserialize)]
struct FaultRequest {
    fault: Fault,
    count: usize,
}

async fn faults(shared: web::Data<Arc<Shared>>, body: web::Json<FaultRequest>) -> HttpResponse {
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    st.faults.extend(std::iter::repeat_n(body.fault, body.count));
    HttpResponse::NoContent().finish()
}

impl Sim {
    /// Starts the simulator on a bound listener.
    pub fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(std::io::Error::other)?;
        let url = format!("http://{}", listener.local_addr()?);
        let numbers = config
            .numbers
            .iter()
            .map(|(access, digits, messaging_enabled)| {
                let number = SimNumber { messaging_enabled: *messaging_enabled, ..SimNumber::default() };
                ((access.clone(), digits.clone()), number)
            })
            .collect();
        let shared = Arc::new(Shared {
            base: url.clone(),
            config,
            state: Mutex::new(State { numbers, ..State::default() }),
            started: Instant::now(),
            http,
            held: tokio::sync::watch::Sender::new(false),
        });
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v2.2/messages", web::post().to(send))
                .route("/v2.1/messages", web::post().to(send))
                .route("/sim/received", web::get().to(received))
                .route("/sim/faults", web::post().to(faults))
                .configure(account::routes)
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { url, shared, handle })
    }

    /// The messages endpoint to configure as a provider's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("{}/v2.2/messages", self.url)
    }

    /// Time since the simulator started: the clock of [`Accepted::at_ms`].
    pub fn elapsed(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// Every send accepted so far, in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).accepted.clone()
    }

    /// How many sends were accepted so far (without copying them, for load tests).
    pub fn accepted_count(&self) -> usize {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).accepted.len()
    }

    /// Every request received so far, refused ones included.
    pub fn requests(&self) -> usize {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).requests
    }

    /// Makes the next `count` requests fail with `fault`.
    pub fn inject(&self, fault: Fault, count: usize) {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).faults.extend(std::iter::repeat_n(fault, count));
    }

    /// Makes the account API's next `count` requests fail with `fault` (`Timeout` and
    /// `LostAnswer` answer `500` there).
    pub fn inject_api(&self, fault: Fault, count: usize) {
        self.lock().api_faults.extend(std::iter::repeat_n(fault, count));
    }

    /// Gives the account with `access_key` a number (11 digits); an existing one is kept as it is.
    pub fn add_number(&self, access_key: &str, digits: &str, messaging_enabled: bool) {
        let number = SimNumber { messaging_enabled, ..SimNumber::default() };
        self.lock().numbers.entry((access_key.to_owned(), digits.to_owned())).or_insert(number);
    }

    /// A number as the simulator holds it: its owner's access key and its state (messaging, its
    /// own callbacks).
    pub fn number(&self, digits: &str) -> Option<(String, SimNumber)> {
        let mut st = self.lock();
        st.settle(Instant::now());
        st.owner(digits).map(|(a, n)| (a.to_owned(), n.clone()))
    }

    /// Reaches URLs under `public` (a Switchboard's public URL) at `actual` (where it listens), as
    /// DNS and a proxy in front of it would: for inbound texts and receipts.
    pub fn route_public_url(&self, public: &str, actual: &str) {
        let (public, actual) = (public.trim_end_matches('/').to_owned(), actual.trim_end_matches('/').to_owned());
        self.lock().routes.push((public, actual));
    }

    /// Points one of a number's callbacks somewhere, as someone would in Flowroute's portal.
    pub fn set_number_callback(&self, digits: &str, kind: CallbackKind, url: &str) {
        let mut st = self.lock();
        if let Some(n) = st.numbers.iter_mut().find(|((_, d), _)| d == digits).map(|(_, n)| n) {
            n.callbacks.insert(kind, url.to_owned());
        }
    }

    /// The account's callback of one kind.
    pub fn account_callback(&self, access_key: &str, kind: CallbackKind) -> Option<String> {
        self.lock().account_callbacks.get(&(access_key.to_owned(), kind)).cloned()
    }

    /// Where a text to `to` (11 digits) would be posted: the number's own callback for its kind,
    /// else its account's.
    pub fn callback_for(&self, to: &str, mms: bool) -> Option<String> {
        self.lock().callback_for(to, if mms { CallbackKind::Mms } else { CallbackKind::Sms })
    }

    /// A text from `from` to one of the accounts' numbers, posted as Flowroute would: to the
    /// callback set for `to`, if messaging is enabled on it. `Err` when Flowroute would not post it
    /// (no such number, messaging off, no callback); otherwise the receiver's status.
    pub async fn text_in(
        &self,
        from: &str,
        to: &str,
        body: Option<&str>,
        media_urls: &[String],
        format: InboundFormat,
    ) -> anyhow::Result<u16> {
        let digits = to.trim_start_matches('+');
        let url = {
            let mut st = self.lock();
            st.settle(Instant::now());
            let Some((_, number)) = st.owner(digits) else {
                anyhow::bail!("no account holds {digits}");
            };
            anyhow::ensure!(number.messaging_enabled, "messaging is not enabled on {digits}");
            let kind = if media_urls.is_empty() { CallbackKind::Sms } else { CallbackKind::Mms };
            let url = st
                .callback_for(digits, kind)
                .ok_or_else(|| anyhow::anyhow!("no {} is set for {digits}", kind.as_str()))?;
            st.routed(&url)
        };
        post_inbound(&url, from, to, body, media_urls, format).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every send (`true`) — each waits, unanswered, until released (`false`) — so that a
    /// backlog can build up behind the sends in flight, as behind a slow provider.
    pub fn hold(&self, held: bool) {
        self.shared.held.send_replace(held);
    }

    /// Stops the simulator.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// The most of the times `at_ms` (such as sends' [`Accepted::at_ms`]) that fall within any one
/// second: Flowroute's limit is 5 texts a second per access key.
pub fn busiest_second(mut at_ms: Vec<u128>) -> usize {
    at_ms.sort_unstable();
    let mut start = 0;
    let mut most = 0;
    for (end, at) in at_ms.iter().enumerate() {
        while at_ms.get(start).is_some_and(|first| at - first >= 1000) {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

/// Flowroute's inbound formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundFormat {
    JsonApi,
    Compact,
}

/// Posts an inbound text to `url` as Flowroute does; returns the HTTP status.
pub async fn post_inbound(
    url: &str,
    from: &str,
    to: &str,
    body: Option<&str>,
    media_urls: &[String],
    format: InboundFormat,
) -> anyhow::Result<u16> {
    let digits = |n: &str| n.trim_start_matches('+').to_owned();
    let id = format!("mdr2-{}", new_hex(16));
    let payload = match format {
        InboundFormat::Compact => json!({"to": digits(to), "from": digits(from), "body": body, "id": id}),
        InboundFormat::JsonApi => {
            let media: Vec<Value> = media_urls
                .iter()
                .enumerate()
                .map(|(i, u)| json!({"type": "media", "id": format!("{i}-{}", new_hex(4)),
                                      "attributes": {"url": u, "file_name": u.rsplit('/').next(), "mime_type": "image/jpeg", "file_size": 1}}))
                .collect();
            let refs: Vec<Value> = media.iter().map(|m| json!({"type": "media", "id": m["id"]})).collect();
            json!({"data": {"type": "message", "id": id, "attributes": {
                "to": digits(to), "from": digits(from), "body": body, "direction": "inbound", "is_mms": !media.is_empty(),
                "message_encoding": 0, "message_type": "longcode", "status": "delivered",
                "timestamp": chrono::Utc::now().to_rfc3339(), "amount_nanodollars": "7000000"},
                "relationships": {"media": {"data": refs}}}, "included": media})
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(payload.to_string())
        .send()
        .await?;
    Ok(res.status().as_u16())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod busiest {
    use super::busiest_second;

    #[test]
    fn counts_the_most_within_any_second() {
        assert_eq!(busiest_second(Vec::new()), 0);
        assert_eq!(busiest_second(vec![1500, 0, 999, 100, 1000]), 3);
        assert_eq!(busiest_second(vec![0, 1000, 2000, 3000]), 1);
        assert_eq!(busiest_second(vec![5, 5, 5, 1004, 1005]), 4);
    }
}
