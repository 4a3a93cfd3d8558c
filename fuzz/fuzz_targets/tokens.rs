//! Any text presented where Basalt expects one of its tokens: refresh tokens, one-time tokens
//! (email links), service keys, access tokens (JWTs) and query cursors. Decoding never panics;
//! what decodes has the exact shape Basalt issues (so one secret has one spelling); a JWT that
//! no key of this server signed is refused, whatever its header says; a sealed cursor opens
//! only to what was sealed, and only for the query it was sealed for.
#![no_main]

use std::sync::LazyLock;

use basalt_auth::signing::SigningKeys;
use basalt_documents::fuzzing::CursorKey;
use basalt_documents::order::OrderBy;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

static KEYS: LazyLock<SigningKeys> = LazyLock::new(|| SigningKeys::from_seed([7; 32]));
static CURSORS: LazyLock<CursorKey> = LazyLock::new(|| CursorKey::new(vec![9; 32]));
static ORDERS: LazyLock<[OrderBy; 2]> = LazyLock::new(|| {
    [
        OrderBy::parse(None).expect("default order"),
        OrderBy::parse(Some(&json!([["n", "desc"]]))).expect("an order"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };

    if let Some((session, counter, secret)) = basalt_auth::sessions::parse_refresh_token(s) {
        assert_eq!(format!("{session}.{counter}.{secret}"), s, "one spelling per refresh token");
    }
    if let Some((id, secret)) = basalt_auth::one_time::parse_token(s) {
        assert_eq!(format!("{id}.{secret}"), s.trim(), "one spelling per one-time token");
    }
    if let Some((id, secret)) = basalt_auth::service_keys::parse_key(s) {
        assert_eq!(format!("bsk_{id}_{secret}"), s, "one spelling per service key");
    }

    assert!(KEYS.verify(s, "http://127.0.0.1").is_err(), "a token this server never signed: {s:?}");

    let [by_id, by_n] = &*ORDERS;
    if let Ok(plain) = CURSORS.open(s, by_id) {
        // Only what this key sealed opens; the fuzzer cannot forge the tag.
        panic!("forged cursor opened to {plain:?}");
    }
    let sealed = CURSORS.seal(s, by_id);
    assert_eq!(CURSORS.open(&sealed, by_id).expect("a sealed cursor opens"), s);
    assert!(CURSORS.open(&sealed, by_n).is_err(), "a cursor is bound to its query's order");
    if let Ok((keys, id)) = by_n.decode_cursor(s) {
        let again = by_n.cursor(&keys, &id);
        assert_eq!(by_n.decode_cursor(&again).map(|(_, i)| i).ok(), Some(id));
    }
});
