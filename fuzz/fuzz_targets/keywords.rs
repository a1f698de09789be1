//! Any text body against the compliance keywords and routing: switchboard_core::invariants::keywords.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        switchboard_core::invariants::keywords(text);
    }
});
