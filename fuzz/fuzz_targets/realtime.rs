//! Any text as a client message on `/v1/realtime`: it is read as one of the messages or
//! answered with an `invalid_argument` error frame that is valid JSON (and names the message's
//! `id` when it had one). A subscription's filter goes through the query parser, which the
//! `query` target covers; channel names through `names`.
#![no_main]

use basalt_realtime::fuzzing::{ClientMessage, parse_message};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_message(text) {
        Err(frame) => {
            let v: Value = serde_json::from_str(&frame).expect("an error frame is JSON");
            assert_eq!(v["type"], "error");
            assert_eq!(v["code"], "invalid_argument");
            if let Some(id) = v.get("id") {
                let sent: Value = serde_json::from_str(text).expect("an id came from a JSON message");
                assert_eq!(Some(id), sent.get("id"));
            }
        }
        Ok(ClientMessage::Subscribe { filter: Some(f), .. }) => {
            let _ = basalt_documents::Filter::parse(&f);
        }
        Ok(_) => {}
    }
});
