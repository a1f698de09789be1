//! The Flowroute client: the exact bytes Flowroute receives, and how every kind of answer is read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use secrecy::SecretString;
use switchboard_core::E164;
use switchboard_flowroute::{Accepted, Client, Credentials, Outgoing, SendError, classify, request_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The fixture as compact JSON: the same keys in the same order, without the spaces.
fn compact(name: &str) -> Vec<u8> {
    String::from_utf8(fixture(name)).unwrap().trim_end().replace("\": ", "\":").replace(", \"", ",\"").into_bytes()
}

fn n(s: &str) -> E164 {
    E164::parse(s).unwrap()
}

#[test]
fn sms_body_is_the_documented_request_byte_for_byte() {
    let (from, to) = (n("+12025550100"), n("+12065550123"));
    let body = request_body(&Outgoing {
        from: &from,
        to: &to,
        body: Some("Your appointment is confirmed"),
        media_urls: &[],
        dlr_callback: Some("https://sms.example.net/flowrouteinbound"),
    });
    assert_eq!(String::from_utf8(body).unwrap(), String::from_utf8(compact("send_sms_request.json")).unwrap());
}

#[test]
fn mms_body_is_the_documented_request_byte_for_byte() {
    let (from, to) = (n("+12025550100"), n("+12065550123"));
    let media = vec!["https://files.example.net/map.png".to_owned()];
    let body = request_body(&Outgoing {
        from: &from,
        to: &to,
        body: Some("Here is the map"),
        media_urls: &media,
        dlr_callback: Some("https://sms.example.net/flowrouteinbound"),
    });
    assert_eq!(String::from_utf8(body).unwrap(), String::from_utf8(compact("send_mms_request.json")).unwrap());
}

#[test]
fn answers_are_classified() {
    assert_eq!(
        classify(202, &fixture("send_response_202.json"), None),
        Ok(Accepted { id: "mdr2-39cadeace66e11e7aff806cd7f24ba2d".into() })
    );
    match classify(401, &fixture("error_401.json"), None) {
        Err(SendError::Permanent { status: 401, detail }) => assert_eq!(detail, "Unauthorized: Authentication failed."),
        other => panic!("{other:?}"),
    }
    match classify(422, &fixture("error_422_media.json"), None) {
        Err(SendError::Permanent { status: 422, detail }) => assert!(detail.contains("767840 byte limit"), "{detail}"),
        other => panic!("{other:?}"),
    }
    let limited = classify(
        429,
        br#"{"errors":[{"id":"x","status":429,"title":"Too Many Requests","detail":{"limit":5}}]}"#,
        Some(Duration::from_secs(2)),
    );
    assert_eq!(
        limited,
        Err(SendError::Transient {
            status: Some(429),
            detail: "Too Many Requests: {\"limit\":5}".into(),
            retry_after: Some(Duration::from_secs(2))
        }),
        "a detail that is not a string is kept as JSON"
    );
    assert!(matches!(classify(500, b"oops", None), Err(SendError::Transient { status: Some(500), .. })));
    assert!(matches!(classify(503, b"", None), Err(SendError::Transient { status: Some(503), .. })));
    assert!(matches!(classify(400, b"", None), Err(SendError::Permanent { status: 400, .. })));
    assert!(
        matches!(classify(200, br#"{"data":{}}"#, None), Err(SendError::Permanent { status: 200, .. })),
        "a 2xx without an id is not a success"
    );
}

/// One request as the server saw it: head and body.
async fn capture(listener: TcpListener, answer: String) -> (String, Vec<u8>) {
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head, body) = loop {
        let n = sock.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            break (head, buf[end + 4..end + 4 + len].to_vec());
        }
    };
    sock.write_all(answer.as_bytes()).await.unwrap();
    (head, body)
}

#[tokio::test]
async fn the_request_on_the_wire() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v2.2/messages", listener.local_addr().unwrap());
    let answer = String::from_utf8(fixture("send_response_202.json")).unwrap();
    let ok = format!(
        "HTTP/1.1 202 Accepted\r\ncontent-type: application/vnd.api+json\r\ncontent-length: {}\r\n\r\n{answer}",
        answer.len()
    );
    let server = tokio::spawn(capture(listener, ok));
    let (from, to) = (n("+12025550100"), n("+12065550123"));
    let creds = Credentials { access_key: "AK12345".into(), secret_key: SecretString::from("s3cr3t") };
    let msg = Outgoing {
        from: &from,
        to: &to,
        body: Some("Your appointment is confirmed"),
        media_urls: &[],
        dlr_callback: Some("https://sms.example.net/flowrouteinbound"),
    };
    let sent = Client::new().unwrap().send(&endpoint, &creds, &msg).await;
    assert_eq!(sent, Ok(Accepted { id: "mdr2-39cadeace66e11e7aff806cd7f24ba2d".into() }));
    let (head, body) = server.await.unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("POST /v2.2/messages HTTP/1.1\r\n"), "{head}");
    // "AK12345:s3cr3t" in base64.
    assert!(lower.contains("authorization: basic qusxmjm0ntpzm2nym3q="), "{head}");
    assert!(lower.contains("content-type: application/vnd.api+json"), "{head}");
    assert!(lower.contains("accept: application/vnd.api+json"), "{head}");
    assert_eq!(body, compact("send_sms_request.json"));
    assert!(!format!("{creds:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn silence_and_refusal_are_transient() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, reads, never answers.
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        loop {
            if sock.read(&mut buf).await.unwrap_or(0) == 0 {
                break;
            }
        }
    });
    let (from, to) = (n("+12025550100"), n("+12065550123"));
    let creds = Credentials { access_key: "AK".into(), secret_key: SecretString::from("SK") };
    let msg = Outgoing { from: &from, to: &to, body: Some("hi"), media_urls: &[], dlr_callback: None };
    let client = Client::with_timeouts(Duration::from_secs(1), Duration::from_millis(500)).unwrap();
    let silent = client.send(&format!("http://{addr}/v2.2/messages"), &creds, &msg).await;
    assert!(
        matches!(silent, Err(SendError::Unknown { ref detail }) if detail.contains("in time")),
        "a request that went out unanswered has an unknown outcome: {silent:?}"
    );
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = closed.local_addr().unwrap();
    drop(closed);
    let refused = client.send(&format!("http://{gone}/v2.2/messages"), &creds, &msg).await;
    assert!(
        matches!(refused, Err(SendError::Transient { status: None, .. })),
        "a request that never connected is safe to resend: {refused:?}"
    );
}

/// An answer without end (a hostile or broken endpoint) is cut off at [`MAX_ANSWER`] bytes, at once,
/// not buffered until the request's timeout.
#[tokio::test]
async fn an_endless_answer_is_read_only_up_to_the_cap() {
    use switchboard_flowroute::MAX_ANSWER;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
                let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
                while tokio::time::Instant::now() < deadline && sock.write_all(chunk.as_bytes()).await.is_ok() {
                    counter.fetch_add(16 * 1024, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let (from, to) = (n("+12025550100"), n("+12065550123"));
    let creds = Credentials { access_key: "AK".into(), secret_key: SecretString::from("SK") };
    let msg = Outgoing { from: &from, to: &to, body: Some("hi"), media_urls: &[], dlr_callback: None };
    let client = Client::with_timeouts(Duration::from_secs(1), Duration::from_secs(30)).unwrap();
    let started = std::time::Instant::now();
    let answer = client.send(&format!("http://{addr}/v2.2/messages"), &creds, &msg).await;
    assert!(started.elapsed() < Duration::from_secs(5), "read for {:?}", started.elapsed());
    assert!(
        matches!(answer, Err(SendError::Transient { status: Some(500), ref detail, .. }) if detail.contains(&format!("longer than {MAX_ANSWER}"))),
        "{answer:?}"
    );
}
