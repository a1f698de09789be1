//! Flowroute's account API: the numbers an account holds, where Flowroute posts texts and receipts
//! (per account and per number), messaging on a number, and message lookups. The same host and
//! credentials as sending; every call is JSON:API over HTTP Basic auth, and every answer is read
//! leniently and capped like a send's (see `docs/flowroute.md`, "Account API").

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::client::{Client, Credentials, JSON_API, MAX_ANSWER, error_detail, read_capped, retry_after, with_causes};
use crate::lenient::{opt_bool, opt_string, opt_timestamp};

/// The most numbers one page of `GET /v2/numbers` holds.
pub const NUMBERS_PAGE: u32 = 200;

/// Why an account call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `401` or `403`: the access key and secret key are not a pair Flowroute accepts.
    #[error("Flowroute refused the keys: {0}")]
    Unauthorized(String),
    /// `404`: the account holds no such number, task or message.
    #[error("Flowroute knows no such {0}")]
    NotFound(String),
    /// `429`: too many requests to this endpoint for now.
    #[error("Flowroute is limiting requests: {detail}")]
    RateLimited { detail: String, retry_after: Option<Duration> },
    /// No answer: the host could not be reached, or did not answer in time.
    #[error("Flowroute could not be reached: {0}")]
    Unreachable(String),
    /// `5xx`: Flowroute failed.
    #[error("Flowroute failed: {detail}")]
    Unavailable { status: u16, detail: String },
    /// Another answer: a refused request (other `4xx`), or a body that is not what the call returns.
    #[error("Flowroute answered {status}: {detail}")]
    Refused { status: u16, detail: String },
}

impl ApiError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unreachable(_) | Self::Unavailable { .. })
    }
}

/// Where Flowroute posts for an account or a number: inbound texts and delivery receipts, SMS and
/// MMS apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallbackKind {
    Sms,
    Mms,
    SmsDlr,
    MmsDlr,
}

impl CallbackKind {
    /// All four, in the order they are set.
    pub const ALL: [Self; 4] = [Self::Sms, Self::Mms, Self::SmsDlr, Self::MmsDlr];

    /// The path segment Flowroute names it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms_callback",
            Self::Mms => "mms_callback",
            Self::SmsDlr => "sms_dlr_callback",
            Self::MmsDlr => "mms_dlr_callback",
        }
    }

    /// The kind a path segment names.
    pub fn parse(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == segment)
    }
}

/// A number the account holds, as `GET /v2/numbers` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNumber {
    /// 11 digits, `1NPANXXXXXX`, without `+`.
    pub digits: String,
    pub alias: Option<String>,
    /// `standard`, `tollfree`, … as Flowroute names it.
    pub number_type: Option<String>,
    pub rate_center: Option<String>,
    pub state: Option<String>,
    /// Whether texting is enabled on it, where Flowroute's answer says (`None`: it does not).
    pub messaging_enabled: Option<bool>,
}

/// One page of the account's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumbersPage {
    pub numbers: Vec<RemoteNumber>,
    /// Whether Flowroute names a next page.
    pub more: bool,
}

/// A request to enable or disable messaging, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    /// The task to ask about (`GET /v2/message-provision/status/{task}`).
    pub task: String,
    /// Flowroute's word for it: `processing`, `successful`, `failed`, …
    pub status: String,
    /// The numbers (11 digits) done, still in progress and failed, where the answer lists them.
    pub successful: Vec<String>,
    pub processing: Vec<String>,
    pub failed: Vec<String>,
}

impl Provisioning {
    /// Whether the task is over (it succeeded or failed for every number).
    pub fn finished(&self) -> bool {
        let status = self.status.to_ascii_lowercase();
        self.processing.is_empty() && !matches!(status.as_str(), "processing" | "pending" | "queued" | "")
    }
}

/// A message as Flowroute's message lookups report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMessage {
    /// `mdr2-…`.
    pub id: String,
    pub to: String,
    pub from: String,
    pub body: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    pub status: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// The API's base URL for a messaging endpoint: `https://api.flowroute.com/v2.2/messages` gives
/// `https://api.flowroute.com` (a path ending in `/v2.x/messages` is cut off; any other path is
/// kept as the base).
pub fn api_base(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if let Some(head) = trimmed.strip_suffix("/messages")
        && let Some((base, version)) = head.rsplit_once('/')
        && version.starts_with("v2")
    {
        return base.to_owned();
    }
    trimmed.to_owned()
}

#[derive(Deserialize)]
struct NumberItem {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default)]
    attributes: NumberAttributes,
}

#[derive(Default, Deserialize)]
struct NumberAttributes {
    #[serde(default, deserialize_with = "opt_string")]
    value: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    alias: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    number_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    rate_center: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    messaging_enabled: Option<bool>,
}

impl NumberItem {
    fn into_number(self) -> Option<RemoteNumber> {
        let a = self.attributes;
        let digits = a.value.or(self.id).map(|d| d.trim_start_matches('+').to_owned())?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(RemoteNumber {
            digits,
            alias: a.alias.filter(|s| !s.is_empty()),
            number_type: a.number_type,
            rate_center: a.rate_center,
            state: a.state,
            messaging_enabled: a.messaging_enabled,
        })
    }
}

#[derive(Deserialize)]
struct NumbersBody {
    #[serde(default)]
    data: Vec<NumberItem>,
    #[serde(default)]
    links: Links,
}

#[derive(Default, Deserialize)]
struct Links {
    #[serde(default, deserialize_with = "opt_string")]
    next: Option<String>,
}

#[derive(Deserialize)]
struct NumberBody {
    data: NumberItem,
}

#[derive(Deserialize)]
struct CallbackBody {
    data: CallbackData,
}

#[derive(Deserialize)]
struct CallbackData {
    #[serde(default)]
    attributes: CallbackAttributes,
}

#[derive(Default, Deserialize)]
struct CallbackAttributes {
    #[serde(default, deserialize_with = "opt_string")]
    callback_url: Option<String>,
}

#[derive(Deserialize)]
struct ProvisionBody {
    data: ProvisionData,
}

#[derive(Deserialize)]
struct ProvisionData {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default)]
    attributes: ProvisionAttributes,
}

#[derive(Default, Deserialize)]
struct ProvisionAttributes {
    #[serde(default, deserialize_with = "opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    tn: Option<String>,
    #[serde(default)]
    successful: Vec<serde_json::Value>,
    #[serde(default)]
    processing: Vec<serde_json::Value>,
    #[serde(default)]
    failed: Vec<serde_json::Value>,
}

fn digits_of(values: Vec<serde_json::Value>) -> Vec<String> {
    values
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            other => other.get("tn").and_then(|t| t.as_str()).map(str::to_owned),
        })
        .map(|s| s.trim_start_matches('+').to_owned())
        .collect()
}

#[derive(Deserialize)]
struct MessageBody {
    data: MessageItem,
}

#[derive(Deserialize)]
struct MessagesBody {
    #[serde(default)]
    data: Vec<MessageItem>,
}

#[derive(Deserialize)]
struct MessageItem {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default)]
    attributes: MessageAttributes,
}

#[derive(Default, Deserialize)]
struct MessageAttributes {
    #[serde(default, deserialize_with = "opt_string")]
    to: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    from: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    body: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    direction: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_timestamp")]
    timestamp: Option<DateTime<Utc>>,
}

impl MessageItem {
    fn into_message(self) -> Option<RemoteMessage> {
        let a = self.attributes;
        let digits = |n: Option<String>| n.map(|n| n.trim_start_matches('+').to_owned()).unwrap_or_default();
        Some(RemoteMessage {
            id: self.id?,
            to: digits(a.to),
            from: digits(a.from),
            body: a.body,
            direction: a.direction,
            status: a.status.filter(|s| !s.is_empty()),
            timestamp: a.timestamp,
        })
    }
}

fn malformed(status: u16, what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Refused { status, detail: format!("the answer is not {what}: {e}") }
}

/// One account's API, reached through [`Client::account`].
#[derive(Debug, Clone)]
pub struct Account<'a> {
    client: &'a Client,
    base: String,
    creds: &'a Credentials,
}

impl Client {
    /// The account API of the provider whose messaging endpoint is `endpoint` (see [`api_base`]).
    pub fn account<'a>(&'a self, endpoint: &str, creds: &'a Credentials) -> Account<'a> {
        Account { client: self, base: api_base(endpoint), creds }
    }
}

impl Account<'_> {
    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request and classifies the answer: the status and body of a `2xx`, or the error.
    /// `what` names the thing a `404` means is missing.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        let mut req = self
            .client
            .http()
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.creds.access_key, Some(self.creds.secret_key.expose_secret()))
            .header(ACCEPT, JSON_API);
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, JSON_API).body(body.to_string());
        }
        let res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                return ApiError::Unreachable("no answer in time".into());
            }
            ApiError::Unreachable(with_causes(
                if e.is_connect() { "could not connect" } else { "the request failed" },
                &e,
            ))
        })?;
        let status = res.status();
        let retry_after = retry_after(&res);
        let body = read_capped(res, MAX_ANSWER)
            .await
            .map_err(|e| ApiError::Unreachable(format!("reading Flowroute's answer: {e}")))?;
        if status.is_success() {
            return Ok((status.as_u16(), body));
        }
        let code = status.as_u16();
        let detail = error_detail(&body).unwrap_or_else(|| format!("Flowroute answered {code}"));
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::Unauthorized(detail),
            StatusCode::NOT_FOUND => ApiError::NotFound(what.to_owned()),
            StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited { detail, retry_after },
            s if s.is_server_error() => ApiError::Unavailable { status: code, detail },
            _ => ApiError::Refused { status: code, detail },
        })
    }

    /// The cheapest read-only call, to check that the keys work: one number of the account.
    pub async fn check(&self) -> Result<(), ApiError> {
        self.numbers(1, 0).await.map(|_| ())
    }

    /// One page of the account's numbers (`GET /v2/numbers`), `limit` at most [`NUMBERS_PAGE`].
    pub async fn numbers(&self, limit: u32, offset: u64) -> Result<NumbersPage, ApiError> {
        let limit = limit.clamp(1, NUMBERS_PAGE);
        let (status, body) =
            self.call(Method::GET, &format!("/v2/numbers?limit={limit}&offset={offset}"), None, "numbers").await?;
        let parsed: NumbersBody =
            serde_json::from_slice(&body).map_err(|e| malformed(status, "a list of numbers", e))?;
        Ok(NumbersPage {
            more: parsed.links.next.is_some_and(|n| !n.is_empty()) && parsed.data.len() as u32 == limit,
            numbers: parsed.data.into_iter().filter_map(NumberItem::into_number).collect(),
        })
    }

    /// Every number of the account, page by page, at most `max` of them (`Err` past that: an
    /// account that large is listed by pages).
    pub async fn all_numbers(&self, max: usize) -> Result<Vec<RemoteNumber>, ApiError> {
        let mut all = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self.numbers(NUMBERS_PAGE, offset).await?;
            let got = page.numbers.len();
            all.extend(page.numbers);
            if all.len() > max {
                return Err(ApiError::Refused {
                    status: 200,
                    detail: format!("the account holds more than {max} numbers"),
                });
            }
            if !page.more || got == 0 {
                return Ok(all);
            }
            offset += u64::from(NUMBERS_PAGE);
        }
    }

    /// One number of the account (`GET /v2/numbers/{digits}`); [`ApiError::NotFound`] if the
    /// account does not hold it.
    pub async fn number(&self, digits: &str) -> Result<RemoteNumber, ApiError> {
        let (status, body) = self.call(Method::GET, &format!("/v2/numbers/{digits}"), None, "number").await?;
        let parsed: NumberBody = serde_json::from_slice(&body).map_err(|e| malformed(status, "a number", e))?;
        parsed.data.into_number().ok_or_else(|| malformed(status, "a number", "it names no digits"))
    }

    /// One number's own callbacks, where its record shows them (`GET /v2/numbers/{digits}`,
    /// `relationships.<kind>.data.attributes.callback_url`; the shape is *unconfirmed*: Flowroute
    /// documents no read of them, and a kind it does not show is absent).
    pub async fn number_callbacks(&self, digits: &str) -> Result<BTreeMap<CallbackKind, String>, ApiError> {
        let (status, body) = self.call(Method::GET, &format!("/v2/numbers/{digits}"), None, "number").await?;
        let parsed: serde_json::Value = serde_json::from_slice(&body).map_err(|e| malformed(status, "a number", e))?;
        let relationships = &parsed["data"]["relationships"];
        Ok(CallbackKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let related = &relationships[kind.as_str()]["data"];
                let url =
                    related["attributes"]["callback_url"].as_str().or_else(|| related["callback_url"].as_str())?;
                (!url.is_empty()).then(|| (kind, url.to_owned()))
            })
            .collect())
    }

    /// Sets the account's callback of one kind (`PUT /v2.2/messages/{kind}`).
    pub async fn set_account_callback(&self, kind: CallbackKind, url: &str) -> Result<(), ApiError> {
        let body = json!({"data": {"attributes": {"callback_url": url}}});
        self.call(Method::PUT, &format!("/v2.2/messages/{}", kind.as_str()), Some(body), "callback").await.map(|_| ())
    }

    /// The account's callback of one kind (`GET /v2.2/messages/{kind}`); `None` when none is set.
    pub async fn account_callback(&self, kind: CallbackKind) -> Result<Option<String>, ApiError> {
        match self.call(Method::GET, &format!("/v2.2/messages/{}", kind.as_str()), None, "callback").await {
            Ok((status, body)) => {
                let parsed: CallbackBody =
                    serde_json::from_slice(&body).map_err(|e| malformed(status, "a callback", e))?;
                Ok(parsed.data.attributes.callback_url.filter(|u| !u.is_empty()))
            }
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the account's callback of one kind (`DELETE /v2.2/messages/{kind}`).
    pub async fn delete_account_callback(&self, kind: CallbackKind) -> Result<(), ApiError> {
        match self.call(Method::DELETE, &format!("/v2.2/messages/{}", kind.as_str()), None, "callback").await {
            Ok(_) | Err(ApiError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sets one number's callback of one kind (`POST /v2/numbers/{digits}/relationships/{kind}`).
    pub async fn set_number_callback(&self, digits: &str, kind: CallbackKind, url: &str) -> Result<(), ApiError> {
        let body = json!({"data": {"attributes": {"callback_url": url}}});
        let path = format!("/v2/numbers/{digits}/relationships/{}", kind.as_str());
        self.call(Method::POST, &path, Some(body), "number").await.map(|_| ())
    }

    /// Enables (or disables) messaging on numbers (`POST /v2/message-provision`).
    pub async fn provision_messaging(&self, digits: &[String], enable: bool) -> Result<Provisioning, ApiError> {
        let body = json!({"numbers": digits, "action": if enable { "enable" } else { "disable" }});
        let (status, body) = self.call(Method::POST, "/v2/message-provision", Some(body), "number").await?;
        provisioning(status, &body)
    }

    /// Where a provisioning task stands (`GET /v2/message-provision/status/{task}`).
    pub async fn provisioning(&self, task: &str) -> Result<Provisioning, ApiError> {
        let (status, body) =
            self.call(Method::GET, &format!("/v2/message-provision/status/{task}"), None, "task").await?;
        provisioning(status, &body)
    }

    /// A message of the account by id (`GET /v2.1/messages/{id}`); `None` if Flowroute has no such
    /// message: it did not take it.
    pub async fn message(&self, id: &str) -> Result<Option<RemoteMessage>, ApiError> {
        match self.call(Method::GET, &format!("/v2.1/messages/{id}"), None, "message").await {
            Ok((status, body)) => {
                let parsed: MessageBody =
                    serde_json::from_slice(&body).map_err(|e| malformed(status, "a message", e))?;
                Ok(parsed.data.into_message())
            }
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The account's messages between `start` and `end` (`GET /v2.1/messages`), one page.
    pub async fn messages(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<RemoteMessage>, ApiError> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let path = format!(
            "/v2.1/messages?start_date={}&end_date={}&limit={}&offset={offset}",
            fmt(start),
            fmt(end),
            limit.clamp(1, NUMBERS_PAGE)
        );
        let (status, body) = self.call(Method::GET, &path, None, "messages").await?;
        let parsed: MessagesBody =
            serde_json::from_slice(&body).map_err(|e| malformed(status, "a list of messages", e))?;
        Ok(parsed.data.into_iter().filter_map(MessageItem::into_message).collect())
    }
}

fn provisioning(status: u16, body: &[u8]) -> Result<Provisioning, ApiError> {
    let parsed: ProvisionBody =
        serde_json::from_slice(body).map_err(|e| malformed(status, "a provisioning task", e))?;
    let a = parsed.data.attributes;
    let mut successful = digits_of(a.successful);
    let mut processing = digits_of(a.processing);
    let status_word = a.status.unwrap_or_default();
    // A task for one number names it in `tn` and its state in `status`.
    if let Some(tn) = a.tn.map(|t| t.trim_start_matches('+').to_owned()) {
        match status_word.to_ascii_lowercase().as_str() {
            "successful" | "success" | "completed" | "enabled" | "disabled" => successful.push(tn),
            "processing" | "pending" | "queued" => processing.push(tn),
            _ => {}
        }
    }
    Ok(Provisioning {
        task: parsed.data.id.ok_or_else(|| malformed(status, "a provisioning task", "it has no id"))?,
        status: status_word,
        successful,
        processing,
        failed: digits_of(a.failed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_is_the_endpoint_without_its_messages_path() {
        assert_eq!(api_base("https://api.flowroute.com/v2.2/messages"), "https://api.flowroute.com");
        assert_eq!(api_base("https://api.flowroute.com/v2.1/messages/"), "https://api.flowroute.com");
        assert_eq!(api_base("http://127.0.0.1:8585/v2.2/messages"), "http://127.0.0.1:8585");
        assert_eq!(
            api_base("https://proxy.example.com/flowroute/v2.2/messages"),
            "https://proxy.example.com/flowroute"
        );
        assert_eq!(api_base("https://proxy.example.com/other"), "https://proxy.example.com/other");
    }

    #[test]
    fn numbers_are_read_leniently() {
        let body = br#"{"data":[{"type":"number","id":"12025550100","attributes":{"alias":null,"value":"12025550100",
            "number_type":"standard","rate_center":"washington","state":"dc","cnam_lookups_enabled":true,"extra":1}},
            {"type":"number","id":"+12025550101","attributes":{"messaging_enabled":"true"}},
            {"type":"number","attributes":{}}],"links":{"self":"x","next":"y"}}"#;
        let parsed: NumbersBody = serde_json::from_slice(body).unwrap();
        let numbers: Vec<_> = parsed.data.into_iter().filter_map(NumberItem::into_number).collect();
        assert_eq!(numbers.len(), 2, "a number without digits is skipped");
        assert_eq!(numbers[0].digits, "12025550100");
        assert_eq!(numbers[0].messaging_enabled, None);
        assert_eq!(numbers[1].digits, "12025550101");
        assert_eq!(numbers[1].messaging_enabled, Some(true));
    }

    #[test]
    fn provisioning_answers_for_one_number_or_many() {
        let one = br#"{"data":{"type":"message_provisioning_status","id":"t1","attributes":{"status":"processing","tn":"+12025550100"}}}"#;
        let p = provisioning(201, one).unwrap();
        assert_eq!(p.processing, vec!["12025550100"]);
        assert!(!p.finished());
        let bulk = br#"{"data":{"id":"t2","attributes":{"status":"completed","successful":["12025550100"],"processing":[],"failed":[{"tn":"12025550101"}]}}}"#;
        let p = provisioning(200, bulk).unwrap();
        assert_eq!(
            (p.successful.as_slice(), p.failed.as_slice()),
            (&["12025550100".to_owned()][..], &["12025550101".to_owned()][..])
        );
        assert!(p.finished());
        assert!(provisioning(200, br#"{"data":{"attributes":{}}}"#).is_err(), "a task without an id");
    }
}
