//! Property tests: whatever order Flowroute writes keys in, whatever fields it adds, however it types
//! amounts and codes, with or without `+`, with 0 to 6 fraction digits, the callback reads the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_flowroute::{Callback, parse_callback};

/// Writes an object with its keys in the given order (serde_json's map would sort them).
fn object(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:{v}", Value::String(k.clone()))).collect();
    format!("{{{}}}", inner.join(","))
}

fn shuffled(mut pairs: Vec<(String, String)>, seed: &[usize]) -> Vec<(String, String)> {
    for (i, s) in seed.iter().enumerate() {
        let n = pairs.len();
        if n > 1 {
            pairs.swap(i % n, s % n);
        }
    }
    pairs
}

fn body_strategy() -> impl Strategy<Value = Option<Option<String>>> {
    prop_oneof![
        Just(None),                            // missing
        Just(Some(None)),                      // null
        ".{0,40}".prop_map(|s| Some(Some(s))), // any text, Unicode included
    ]
}

prop_compose! {
    fn sms()(
        to in 2_000_000u64..10_000_000,
        plus_to in any::<bool>(),
        plus_from in any::<bool>(),
        body in body_strategy(),
        amount in 0u64..100_000_000,
        amount_as_string in any::<bool>(),
        fraction in 0usize..=6,
        extra in proptest::collection::vec(("[a-z_]{3,12}", any::<i32>()), 0..4),
        seed in proptest::collection::vec(0usize..32, 0..12),
        id in "[0-9a-f]{32}",
    ) -> (String, String, Option<String>, u64, String) {
        let to_digits = format!("1202{to}");
        let to_text = if plus_to { format!("+{to_digits}") } else { to_digits.clone() };
        let from_text = if plus_from { "+12065550123".to_owned() } else { "12065550123".to_owned() };
        let frac = if fraction == 0 { String::new() } else { format!(".{}", "1".repeat(fraction)) };
        let mut attrs = vec![
            ("to".to_owned(), json!(to_text).to_string()),
            ("from".to_owned(), json!(from_text).to_string()),
            ("direction".to_owned(), json!("inbound").to_string()),
            ("is_mms".to_owned(), "false".to_owned()),
            ("timestamp".to_owned(), json!(format!("2024-10-19T01:21:21{frac}Z")).to_string()),
            ("amount_nanodollars".to_owned(), if amount_as_string { json!(amount.to_string()) } else { json!(amount) }.to_string()),
        ];
        let expected_body = match &body {
            None => None,
            Some(None) => { attrs.push(("body".into(), "null".into())); None }
            Some(Some(b)) => { attrs.push(("body".into(), json!(b).to_string())); Some(b.clone()) }
        };
        for (k, v) in &extra {
            if !["to", "from", "body", "direction", "is_mms", "timestamp", "amount_nanodollars"].contains(&k.as_str()) {
                attrs.push((k.clone(), v.to_string()));
            }
        }
        let attrs = object(&shuffled(attrs, &seed));
        let data = shuffled(vec![
            ("type".to_owned(), json!("message").to_string()),
            ("id".to_owned(), json!(format!("mdr2-{id}")).to_string()),
            ("attributes".to_owned(), attrs),
        ], &seed);
        let text = object(&[("data".to_owned(), object(&data)), ("meta".to_owned(), "{\"x\":1}".to_owned())]);
        (text, format!("+{to_digits}"), expected_body, amount, format!("mdr2-{id}"))
    }
}

proptest! {
    #[test]
    fn any_key_order_and_field_types_read_the_same((text, to, body, amount, id) in sms()) {
        let parsed = parse_callback(text.as_bytes());
        let Ok(Callback::Message(m)) = parsed else { panic!("{text}: {parsed:?}") };
        prop_assert_eq!(m.to.as_str(), to.as_str());
        prop_assert_eq!(m.from.as_str(), "+12065550123");
        prop_assert_eq!(m.body, body);
        prop_assert_eq!(m.amount_nanodollars, Some(amount));
        prop_assert_eq!(m.id, id);
        prop_assert!(m.timestamp.is_some(), "{}", text);
    }

    #[test]
    fn status_codes_may_be_numbers_strings_null_or_missing(code in proptest::option::of(1000u32..1300), shape in 0u8..4) {
        let code_field = match (code, shape) {
            (Some(c), 0) => format!(",\"status_code\":{c}"),
            (Some(c), 1) => format!(",\"status_code\":\"{c}\""),
            (_, 2) => ",\"status_code\":null".to_owned(),
            _ => String::new(),
        };
        let text = format!(r#"{{"data":{{"id":"mdr2-abc","type":"delivery_receipt","attributes":{{"status":""{code_field},"level":2}}}}}}"#);
        let Ok(Callback::Receipt(r)) = parse_callback(text.as_bytes()) else { panic!("{text}") };
        let expected = if shape <= 1 { code } else { None };
        prop_assert_eq!(r.status_code, expected);
        prop_assert_eq!(r.status.as_str(), "");
    }

    #[test]
    fn arbitrary_bytes_hold_the_fuzz_targets_properties(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        switchboard_flowroute::invariants::callback(&bytes);
    }

    #[test]
    fn near_valid_callbacks_hold_the_fuzz_targets_properties((text, ..) in sms(), cut in 0usize..400, junk in ".{0,3}") {
        switchboard_flowroute::invariants::callback(text.as_bytes());
        // The same text cut short or with a few characters spliced in, as a fuzzer would mutate it.
        let mut mutated = text.clone();
        let at = mutated.char_indices().map(|(i, _)| i).nth(cut % text.chars().count().max(1)).unwrap_or(0);
        mutated.insert_str(at, &junk);
        switchboard_flowroute::invariants::callback(mutated.as_bytes());
        switchboard_flowroute::invariants::callback(&text.as_bytes()[..at]);
    }

    #[test]
    fn compact_texts_with_any_fields_hold_the_properties(
        to in "[+]?[0-9]{0,13}", from in "[+]?[0-9a-zA-Z]{0,16}", body in proptest::option::of(".{0,20}"),
        id in "[a-zA-Z0-9._ -]{0,70}",
    ) {
        let text = serde_json::json!({"to": to, "from": from, "body": body, "id": id}).to_string();
        switchboard_flowroute::invariants::callback(text.as_bytes());
    }
}
