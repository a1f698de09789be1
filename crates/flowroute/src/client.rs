//! Sending through Flowroute: `POST <endpoint>` (v2.2 messages) with HTTP Basic auth, JSON:API
//! bodies, numbers without `+`, and every answer classified — `202` with an `mdr2-` id is accepted;
//! 429, 5xx, timeouts and connection failures are transient (retry); any other 4xx is permanent.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use switchboard_core::E164;

/// Flowroute's media type for requests and answers.
pub const JSON_API: &str = "application/vnd.api+json";

/// The most of an answer of Flowroute's that is read: its answers are a few hundred bytes, and an
/// endpoint that streams without end must not fill the memory.
pub const MAX_ANSWER: usize = 64 * 1024;

/// Reads a response's body, at most `cap` bytes: a longer one is an error, whatever its
/// `Content-Length` said, and reading stops there.
pub async fn read_capped(mut res: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    if res.content_length().is_some_and(|n| n > cap as u64) {
        return Err(format!("the answer is longer than {cap} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > cap {
            return Err(format!("the answer is longer than {cap} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `Retry-After` of an answer, in seconds.
pub(crate) fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    res.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// An error with its causes, as one line after `what`.
pub(crate) fn with_causes(what: &str, e: &reqwest::Error) -> String {
    let mut detail = what.to_owned();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        detail.push_str(&format!(": {c}"));
        cause = c.source();
    }
    detail
}

/// A provider account's credentials. `Debug` shows only the access key's last characters.
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail: String = self.access_key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        write!(f, "Credentials(…{tail})")
    }
}

/// One text to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub from: &'a E164,
    pub to: &'a E164,
    pub body: Option<&'a str>,
    /// https links to attach (makes the message an MMS).
    pub media_urls: &'a [String],
    /// Where Flowroute posts this message's delivery receipts.
    pub dlr_callback: Option<&'a str>,
}

#[derive(Serialize)]
struct Attributes<'a> {
    to: &'a str,
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_mms: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    media_urls: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dlr_callback: Option<&'a str>,
}

#[derive(Serialize)]
struct Data<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: Attributes<'a>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    data: Data<'a>,
}

/// The JSON:API body Flowroute receives for `msg`, byte for byte.
pub fn request_body(msg: &Outgoing<'_>) -> Vec<u8> {
    let envelope = Envelope {
        data: Data {
            kind: "message",
            attributes: Attributes {
                to: msg.to.digits(),
                from: msg.from.digits(),
                body: msg.body,
                is_mms: !msg.media_urls.is_empty(),
                media_urls: msg.media_urls,
                dlr_callback: msg.dlr_callback,
            },
        },
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// Flowroute took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// `mdr2-` + 32 hex digits: the id receipts will name.
    pub id: String,
}

/// Why a send did not succeed, and whether trying again may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: 429, 5xx, a timeout or a connection failure.
    #[error("transient: {detail}")]
    Transient { status: Option<u16>, detail: String, retry_after: Option<Duration> },
    /// The request went out but no answer came back (a timeout, a dropped connection): Flowroute
    /// may have taken it. Resending risks a second text; wait for a receipt that names it first.
    #[error("unknown outcome: {detail}")]
    Unknown { detail: String },
    /// Do not resend: Flowroute refused this message (other 4xx), or answered in a way that does
    /// not prove it was not taken.
    #[error("permanent: {detail}")]
    Permanent { status: u16, detail: String },
}

#[derive(Deserialize)]
struct AcceptedBody {
    data: Option<AcceptedData>,
}

#[derive(Deserialize)]
struct AcceptedData {
    id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

/// Flowroute's `errors[].detail` (which may be any JSON value) and title, as one line.
pub fn error_detail(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let parts: Vec<String> = parsed
        .errors
        .into_iter()
        .map(|e| {
            let detail = match e.detail {
                Some(serde_json::Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            };
            match (e.title, detail.is_empty()) {
                (Some(t), true) => t,
                (Some(t), false) => format!("{t}: {detail}"),
                (None, _) => detail,
            }
        })
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Classifies an answer: the accepted id, or the error.
pub fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> Result<Accepted, SendError> {
    if (200..300).contains(&status) {
        let id = serde_json::from_slice::<AcceptedBody>(body).ok().and_then(|b| b.data).and_then(|d| d.id);
        return match id {
            Some(id) if id.starts_with("mdr2-") => Ok(Accepted { id }),
            // Taken or not? Resending might send twice, so this is for a person to look at.
            _ => Err(SendError::Permanent {
                status,
                detail: format!("Flowroute answered {status} without a message id"),
            }),
        };
    }
    let detail = error_detail(body).unwrap_or_else(|| format!("Flowroute answered {status}"));
    if status == 429 || status >= 500 {
        Err(SendError::Transient { status: Some(status), detail, retry_after })
    } else {
        Err(SendError::Permanent { status, detail })
    }
}

/// The Flowroute messaging client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// A client with Flowroute's timeouts: 5 s to connect, 30 s for the whole request. A TLS
    /// crypto provider must be installed in the process first.
    pub fn new() -> Result<Self, reqwest::Error> {
        Self::with_timeouts(Duration::from_secs(5), Duration::from_secs(30))
    }

    /// A client with other timeouts.
    pub fn with_timeouts(connect: Duration, total: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self { http: Self::builder(connect, total).build()? })
    }

    /// A client from a builder the caller prepared (one whose resolver refuses some addresses, say),
    /// with `total` as the timeout of a whole request. Redirects are never followed, whatever the
    /// builder said.
    pub fn with_builder(builder: reqwest::ClientBuilder, total: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self { http: builder.timeout(total).redirect(reqwest::redirect::Policy::none()).build()? })
    }

    /// Never follows a redirect, which would replay the credentials to another host, and never
    /// goes through a proxy named by the environment.
    fn builder(connect: Duration, total: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(total)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
    }

    /// The HTTP client underneath, for the account API.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends one message to `endpoint` (such as `https://api.flowroute.com/v2.2/messages`).
    pub async fn send(&self, endpoint: &str, creds: &Credentials, msg: &Outgoing<'_>) -> Result<Accepted, SendError> {
        let res = self
            .http
            .post(endpoint)
            .basic_auth(&creds.access_key, Some(creds.secret_key.expose_secret()))
            .header(CONTENT_TYPE, JSON_API)
            .header(ACCEPT, JSON_API)
            .body(request_body(msg))
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            // Not even connected: the request never left, so resending is safe.
            Err(e) if e.is_connect() => {
                // The causes say why: refused, unreachable, or a host with no address it may use.
                let detail = with_causes("could not connect to Flowroute", &e);
                return Err(SendError::Transient { status: None, detail, retry_after: None });
            }
            Err(e) if e.is_timeout() => {
                return Err(SendError::Unknown { detail: "Flowroute did not answer in time".into() });
            }
            Err(e) => return Err(SendError::Unknown { detail: format!("request failed: {e}") }),
        };
        let status = res.status().as_u16();
        let retry_after = retry_after(&res);
        let body = match read_capped(res, MAX_ANSWER).await {
            Ok(b) => b,
            // A 2xx may mean Flowroute took the message: never resend on a guess.
            Err(e) if (200..300).contains(&status) => {
                return Err(SendError::Permanent {
                    status,
                    detail: format!("Flowroute answered {status}, unreadably: {e}"),
                });
            }
            Err(e) => {
                return Err(SendError::Transient {
                    status: Some(status),
                    detail: format!("reading Flowroute's answer: {e}"),
                    retry_after,
                });
            }
        };
        classify(status, &body, retry_after)
    }
}
