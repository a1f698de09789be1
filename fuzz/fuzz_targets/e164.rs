//! Any text as a telephone number: switchboard_core::invariants::e164.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        switchboard_core::invariants::e164(text);
    }
});
