//! Any `[stored, body]` pair of JSON values as a `PATCH` of a document: a JSON merge patch of
//! `body.data` applied twice gives what it gave once (RFC 7386 is idempotent) and removes every
//! key it set to null; the whole patch (`data`, `increment`, `server_time`, `array_union`,
//! `array_remove`) parses and applies without panicking, and what it leaves encodes as a
//! document or is refused with a clear error.
#![no_main]

use basalt_core::Timestamp;
use basalt_core::json::merge_patch;
use basalt_documents::patch::Patch;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(pair)) = serde_json::from_slice::<Value>(data) else { return };
    let [Value::Object(stored), Value::Object(body)] = pair.as_slice() else { return };

    if let Some(Value::Object(merge)) = body.get("data") {
        let mut once = stored.clone();
        merge_patch(&mut once, merge);
        let mut twice = once.clone();
        merge_patch(&mut twice, merge);
        assert_eq!(once, twice, "a merge patch is idempotent");
        for (k, v) in merge {
            if v.is_null() {
                assert!(!once.contains_key(k), "null removes {k:?}");
            } else if !v.is_object() {
                assert_eq!(once.get(k), Some(v), "a value replaces {k:?}");
            }
        }
    }

    let Ok(patch) = Patch::parse(body) else { return };
    let mut doc: Map<String, Value> = stored.clone();
    if patch.apply(&mut doc, Timestamp::from_millis(1_700_000_000_000)).is_ok() {
        let _ = basalt_documents::fuzzing::encode_data(&doc, 1 << 20);
    }
});
