//! Any text as a collection name, document id, field path, bucket name, object path, channel
//! name, email address or time: no check panics, each check agrees with the pattern the
//! OpenAPI document declares for it (so a client validating against the schema and the server
//! never disagree), and what is accepted has the promised shape.
#![no_main]

use std::sync::LazyLock;

use basalt_core::Timestamp;
use basalt_documents::filter::{FIELD_PATTERN, Field};
use basalt_files::ObjectPath;
use libfuzzer_sys::fuzz_target;
use regex::Regex;

struct Patterns {
    collection: Regex,
    id: Regex,
    field: Regex,
    bucket: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    collection: Regex::new(basalt_documents::fuzzing::COLLECTION_PATTERN).expect("pattern"),
    id: Regex::new(basalt_documents::fuzzing::ID_PATTERN).expect("pattern"),
    field: Regex::new(FIELD_PATTERN).expect("pattern"),
    // The one look-ahead of the bucket pattern, which this regex engine lacks, is checked apart.
    bucket: Regex::new(&basalt_files::fuzzing::NAME_PATTERN.replace("(?!buckets$)", "")).expect("pattern"),
});

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let p = &*PATTERNS;

    assert_eq!(basalt_documents::check_collection_name(s).is_ok(), p.collection.is_match(s), "collection {s:?}");
    assert_eq!(basalt_documents::fuzzing::check_id(s).is_ok(), p.id.is_match(s), "id {s:?}");
    let system = matches!(s, "id" | "created_at" | "updated_at");
    assert_eq!(Field::parse(s).is_ok(), system || p.field.is_match(s), "field {s:?}");
    assert_eq!(
        basalt_files::fuzzing::check_bucket_name(s).is_ok(),
        p.bucket.is_match(s) && s != "buckets",
        "bucket {s:?}"
    );

    if let Ok(path) = ObjectPath::parse(s) {
        assert_eq!(path.as_str(), s);
        assert!(!s.is_empty() && s.len() <= 1024);
        assert!(!s.starts_with('/') && !s.contains('\\'));
        assert!(!s.chars().any(char::is_control));
        assert!(s.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."), "path {s:?}");
    }

    if basalt_realtime::fuzzing::check_channel(s).is_ok() {
        assert!((1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()), "channel {s:?}");
    }

    if let Ok(email) = basalt_auth::email::Email::parse(s) {
        let again = basalt_auth::email::Email::parse(email.as_str()).expect("an accepted address parses again");
        assert_eq!(again.as_str(), email.as_str(), "addresses are kept in one form");
    }

    if let Some(t) = Timestamp::parse(s) {
        let written = t.to_string();
        assert_eq!(Timestamp::parse(&written).map(|u| u.millis()), Some(t.millis()), "{s:?} as {written:?}");
    }
});
