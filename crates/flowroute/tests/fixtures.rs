//! One test per captured or documented payload in `tests/fixtures/` (each described in
//! `docs/flowroute.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use switchboard_flowroute::{Callback, DeliveryReceipt, InboundMessage, WireFormat, parse_callback};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn message(name: &str) -> InboundMessage {
    match parse_callback(&fixture(name)).unwrap() {
        Callback::Message(m) => m,
        other => panic!("{name}: expected a message, got {other:?}"),
    }
}

fn receipt(name: &str) -> DeliveryReceipt {
    match parse_callback(&fixture(name)).unwrap() {
        Callback::Receipt(r) => r,
        other => panic!("{name}: expected a receipt, got {other:?}"),
    }
}

#[test]
fn inbound_sms_jsonapi() {
    let m = message("inbound_sms_jsonapi.json");
    assert_eq!(m.id, "mdr2-4e5435f325d9431f9e64118b20895b08");
    assert_eq!(m.to.as_str(), "+12025550100");
    assert_eq!(m.from.as_str(), "+12065550123");
    assert_eq!(m.body.as_deref(), Some("Hi, can I move my appointment to Friday?"));
    assert!(!m.is_mms);
    assert_eq!(m.encoding, Some(0));
    assert_eq!(m.amount_nanodollars, Some(7_000_000), "a string amount");
    assert_eq!(m.direction.as_deref(), Some("inbound"));
    assert_eq!(m.message_type.as_deref(), Some("longcode"));
    let ts = Utc.with_ymd_and_hms(2024, 10, 19, 1, 21, 21).unwrap() + chrono::Duration::milliseconds(980);
    assert_eq!(m.timestamp, Some(ts));
    assert_eq!(m.format, WireFormat::JsonApi);
    assert!(m.media.is_empty());
}

#[test]
fn inbound_sms_unicode() {
    let m = message("inbound_sms_unicode.json");
    assert_eq!(m.body.as_deref(), Some("Merci beaucoup! \u{1F600} \u{e0} demain"));
    assert_eq!(m.encoding, Some(8));
    assert_eq!(m.amount_nanodollars, Some(14_000_000));
    assert_eq!(m.timestamp, Some(Utc.with_ymd_and_hms(2022, 2, 6, 17, 52, 33).unwrap()));
}

#[test]
fn inbound_sms_compact() {
    let m = message("inbound_sms_compact.json");
    assert_eq!(m.id, "mdr2-6f8ec400c40f460d8b10b96d2de2a1b2");
    assert_eq!((m.to.as_str(), m.from.as_str()), ("+12025550100", "+12065550123"));
    assert_eq!(m.body.as_deref(), Some("Running 10 minutes late"));
    assert_eq!(m.format, WireFormat::Compact);
    assert!(!m.is_mms && m.media.is_empty());
}

#[test]
fn inbound_mms_with_included_media_in_relationship_order() {
    let m = message("inbound_mms_jsonapi.json");
    assert!(m.is_mms);
    assert_eq!(m.body.as_deref(), Some("photo of the damage"));
    assert_eq!(m.amount_nanodollars, Some(9_500_000), "an integer amount");
    assert_eq!(m.timestamp, Some(Utc.with_ymd_and_hms(2017, 12, 9, 1, 26, 2).unwrap()), "two fraction digits");
    assert_eq!(m.media.len(), 2);
    assert_eq!(m.media[0].id.as_deref(), Some("942549551265177600-IMG_6735.jpg"));
    assert_eq!(m.media[0].mime_type, "image/jpeg");
    assert_eq!(m.media[0].file_size, Some(662_315));
    assert_eq!(m.media[0].file_name.as_deref(), Some("IMG_6735.jpg"));
    assert!(m.media[0].url.starts_with("https://mms-media-prod.s3.amazonaws.com/942549551265177600-IMG_6735.jpg?"));
    assert_eq!(m.media[1].mime_type, "text/plain");
    assert_eq!(m.media[1].file_size, Some(42));
}

#[test]
fn inbound_mms_with_null_body() {
    let m = message("inbound_mms_null_body.json");
    assert_eq!(m.body, None);
    assert!(m.is_mms);
    assert_eq!(m.media.len(), 1);
    assert_eq!(m.media[0].mime_type, "image/png");
    assert_eq!(m.media[0].file_size, Some(14_832));
}

#[test]
fn delivery_receipt_level_1() {
    let r = receipt("dlr_jsonapi_level1.json");
    assert_eq!(r.id, "mdr2-39cadeace66e11e7aff806cd7f24ba2d");
    assert_eq!((r.level, r.status.as_str(), r.status_code), (Some(1), "smsc submit", None));
    assert_eq!(r.status_description.as_deref(), Some("Message has been sent"));
    assert_eq!(r.timestamp, Some(Utc.with_ymd_and_hms(2017, 12, 21, 16, 44, 35).unwrap()));
    assert_eq!(r.format, WireFormat::JsonApi);
}

#[test]
fn delivery_receipt_level_2() {
    let r = receipt("dlr_jsonapi_level2.json");
    assert_eq!((r.level, r.status.as_str(), r.status_code), (Some(2), "message buffered", Some(1003)));
}

#[test]
fn delivery_receipt_failed() {
    let r = receipt("dlr_jsonapi_failed.json");
    assert_eq!((r.status.as_str(), r.status_code), ("delivery failure", Some(1110)));
    assert_eq!(r.status_description.as_deref(), Some("User Opted Out (STOP)"));
}

#[test]
fn delivery_receipt_compact() {
    let r = receipt("dlr_compact.json");
    assert_eq!(r.id, "mdr2-d616911548734333b3359d8a9b7eef0c");
    assert_eq!((r.level, r.status.as_str(), r.status_code), (None, "message buffered", Some(1003)));
    assert_eq!(r.format, WireFormat::Compact);
}

#[test]
fn what_is_not_a_callback_is_refused_with_a_reason() {
    for (body, needle) in [
        (&b"{"[..], "not valid JSON"),
        (b"[]", "expected a Flowroute"),
        (b"\"text\"", "not a Flowroute callback"),
        (b"{}", "expected a Flowroute message"),
        (br#"{"data": {"type": "number", "id": "x"}}"#, "data.type 'number'"),
        (br#"{"to": "12025550100", "from": "12065550123", "body": "hi"}"#, "field 'id'"),
        (br#"{"to": "hello", "from": "12065550123", "id": "mdr2-1"}"#, "field 'to'"),
        (br#"{"to": "12025550100", "from": "", "id": "mdr2-1"}"#, "field 'from'"),
        (br#"{"to": "12025550100", "from": "12065550123", "id": "mdr2-1 <script>"}"#, "field 'id'"),
        (br#"{"type": "delivery_receipt", "attributes": {"status": "x"}}"#, "field 'id'"),
    ] {
        let err = parse_callback(body).unwrap_err().to_string();
        assert!(err.contains(needle), "{}: {err}", String::from_utf8_lossy(body));
    }
}

#[test]
fn a_short_code_sender_is_kept_as_digits() {
    let m = parse_callback(br#"{"to": "12025550100", "from": "22395", "id": "mdr2-1", "body": "Your code is 1234"}"#)
        .unwrap();
    let Callback::Message(m) = m else { panic!("a message") };
    assert_eq!(m.from.as_str(), "22395");
    assert!(m.from.number().is_none());
}
