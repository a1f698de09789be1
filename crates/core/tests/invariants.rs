//! The fuzz targets' properties (`fuzz/`), run briefly on every `cargo test` with proptest's
//! generated inputs: numbers in and around E.164's shape, and bodies in and around the keywords.

use proptest::prelude::*;
use switchboard_core::invariants;

fn near_e164() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\+?[0-9]{0,17}",
        "[ +]{0,2}1[2-9][0-9]{2}[2-9][0-9]{6}[ ]{0,2}",
        "\\+[1-9][0-9]{7,14}",
        "\\+?[0-9０-９٠-٩ ()-]{0,16}",
        any::<String>(),
    ]
}

fn near_keyword() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("stop"),
        Just("STOPALL"),
        Just("unsubscribe"),
        Just("Cancel"),
        Just("end"),
        Just("quit"),
        Just("start"),
        Just("unstop"),
        Just("yes"),
        Just("help"),
        Just("info"),
        Just("sales"),
        Just("stop please"),
        Just("ſtop"),
        Just("STOP\u{200b}"),
        Just("ＳＴＯＰ"),
    ];
    prop_oneof![
        ("[ \t\r\n]{0,3}", word, "[ \t\r\n.!]{0,3}").prop_map(|(a, w, b)| format!("{a}{w}{b}")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn e164_parsing_is_canonical(input in near_e164()) {
        invariants::e164(&input);
    }

    #[test]
    fn keywords_are_whole_bodies_and_survive_routing(body in near_keyword()) {
        invariants::keywords(&body);
    }
}
