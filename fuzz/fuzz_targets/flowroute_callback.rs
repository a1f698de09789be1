//! Whatever reaches a prefix: the callback parser's properties (switchboard_flowroute::invariants).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard_flowroute::invariants::callback(data);
});
