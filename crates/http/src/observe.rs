//! Per-request observability: a request id on the span and the response, an access log line, and
//! Prometheus request counts and latencies by route pattern and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use tracing::Instrument;

/// The header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service's Prometheus metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    /// A registry with the HTTP metrics registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let labels = &["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("switchboard_http_requests_total", "HTTP requests answered, by route pattern and status"),
            labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("switchboard_http_request_duration_seconds", "HTTP request latency in seconds")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            labels,
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self { registry, requests, latency })
    }

    /// The registry, for other components to add their metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }
}

/// A request's method as a metric label: one of a fixed set, so that made-up methods cannot grow
/// the registry without bound (each label value is a series kept for the life of the process).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Marks a response whose handler has already logged its outcome at `info`, with more than the
/// access line says (the ingress's `inbound text stored`, with its ids). A marked success's access
/// line is logged at `debug`, so the log keeps one line per text at thousands a second. A failure
/// is always logged at `info`, marked or not.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeLogged;

/// The middleware: wraps every request in a span with its id, times it and records it.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let metrics = req.app_data::<actix_web::web::Data<crate::AppState>>().map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (status, logged) = match &result {
        Ok(res) => (res.status(), res.response().extensions().contains::<OutcomeLogged>()),
        Err(e) => (e.as_response_error().status_code(), false),
    };
    if let Some(m) = metrics {
        m.observe(method, &route, status.as_u16(), elapsed.as_secs_f64());
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_success() && logged {
            tracing::debug!(status = status.as_u16(), latency_ms, "request finished");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "request finished");
        }
    });
    let mut res = result?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::{OutcomeLogged, middleware};

    /// Everything the fmt subscriber writes, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn marked(ok: web::Path<bool>) -> HttpResponse {
        let mut res = if *ok { HttpResponse::Ok().finish() } else { HttpResponse::ServiceUnavailable().finish() };
        res.extensions_mut().insert(OutcomeLogged);
        res
    }

    /// The level of each access line, in request order.
    async fn access_levels(paths: &[&str]) -> Vec<String> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(from_fn(middleware))
                .route("/marked/{ok}", web::post().to(marked))
                .route("/plain", web::post().to(HttpResponse::Ok)),
        )
        .await;
        for path in paths {
            test::call_service(&app, test::TestRequest::post().uri(path).to_request()).await;
        }
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        log.lines()
            .filter(|l| l.contains("request finished"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_owned())
            .collect()
    }

    #[actix_web::test]
    async fn a_success_its_handler_logged_is_an_access_line_at_debug_only() {
        let levels = access_levels(&["/marked/true", "/plain", "/marked/false", "/nowhere"]).await;
        assert_eq!(
            levels,
            ["DEBUG", "INFO", "INFO", "INFO"],
            "a marked failure and every unmarked answer stay at info"
        );
    }
}
