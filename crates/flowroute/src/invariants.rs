//! Properties of the callback parser for every input, as assertions, shared by the fuzz target
//! (`fuzz/fuzz_targets/flowroute_callback.rs`) and the property tests (`tests/properties.rs`).

use serde_json::json;

use crate::{Callback, parse_callback};

fn valid_id(id: &str) {
    assert!(
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "an accepted id {id:?} is not 1–64 safe characters"
    );
}

/// `parse_callback` never panics, answers the same twice, and what it accepts is well formed:
/// a safe id, canonical numbers, and a text that reads back the same from Flowroute's compact form.
pub fn callback(bytes: &[u8]) {
    let first = parse_callback(bytes);
    assert_eq!(format!("{first:?}"), format!("{:?}", parse_callback(bytes)), "two answers for one input");
    match first {
        Ok(Callback::Message(m)) => {
            valid_id(&m.id);
            switchboard_core::invariants::e164(m.to.as_str());
            assert!(!m.from.as_str().is_empty(), "an empty sender");
            assert!(m.media.iter().all(|x| !x.url.is_empty()), "media without a link");
            let compact = json!({"to": m.to.digits(), "from": m.from.as_str(), "body": m.body, "id": m.id});
            match parse_callback(compact.to_string().as_bytes()) {
                Ok(Callback::Message(again)) => {
                    assert_eq!((&again.id, &again.to, &again.from, &again.body), (&m.id, &m.to, &m.from, &m.body));
                }
                other => panic!("{compact} (the text in compact form) parsed as {other:?}"),
            }
        }
        Ok(Callback::Receipt(r)) => valid_id(&r.id),
        Err(e) => assert!(!e.to_string().is_empty(), "an error without a message"),
    }
}
