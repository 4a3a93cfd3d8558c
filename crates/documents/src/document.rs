//! Documents as stored and as served, and the checks on names, ids and data.

use basalt_core::{Code, Error, Timestamp};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Deepest nesting of objects and arrays in `data` (the object itself is 1).
pub const MAX_DEPTH: usize = 32;

/// A stored document. `data` is the JSON text of the data object as stored,
/// passed through to responses without being parsed again.
#[derive(Debug, Clone)]
pub struct Document {
    pub id: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub data: String,
}

/// The document of API.md, as serialized.
#[derive(Serialize, schemars::JsonSchema)]
pub struct DocumentBody<'a> {
    pub id: &'a str,
    pub collection: &'a str,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[schemars(with = "Map<String, Value>")]
    pub data: &'a RawValue,
}

impl Document {
    /// The document as API.md shows it.
    pub fn to_json(&self, collection: &str) -> Result<String, Error> {
        let data: &RawValue = serde_json::from_str(&self.data).map_err(Error::internal)?;
        serde_json::to_string(&self.body(collection, data)).map_err(Error::internal)
    }

    pub fn body<'a>(&'a self, collection: &'a str, data: &'a RawValue) -> DocumentBody<'a> {
        DocumentBody {
            id: &self.id,
            collection,
            version: self.version,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
            data,
        }
    }

    pub fn parse_data(&self) -> Result<Map<String, Value>, Error> {
        serde_json::from_str(&self.data)
            .map_err(|_| Error::internal("a stored document is not a JSON object"))
    }

    /// What rules see as `doc`.
    pub fn rule_value(&self) -> rhai::Dynamic {
        basalt_rules::doc_value_from_text(
            &self.id,
            self.version,
            self.created_at,
            self.updated_at,
            &self.data,
        )
    }
}

/// `^[a-z][a-z0-9_]{0,62}$`.
/// What [`check_collection_name`] accepts, as a JSON Schema pattern.
pub const COLLECTION_PATTERN: &str = "^[a-z][a-z0-9_]{0,62}$";
/// What [`check_id`] accepts, as a JSON Schema pattern.
pub const ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,128}$";

pub fn check_collection_name(name: &str) -> Result<(), Error> {
    let ok = (1..=63).contains(&name.len())
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "invalid collection name `{}`: 1 to 63 of a-z, 0-9 and _, starting with a letter",
            shorten(name)
        )))
    }
}

/// 1 to 128 of `[A-Za-z0-9_-]`.
pub fn check_id(id: &str) -> Result<(), Error> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "invalid document id `{}`: 1 to 128 of A-Z, a-z, 0-9, _ and -",
            shorten(id)
        )))
    }
}

/// Echoing hostile input whole into an error helps nobody.
fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// `data` must be an object; it becomes the stored JSON text.
pub fn data_object(value: Option<Value>) -> Result<Map<String, Value>, Error> {
    match value {
        Some(Value::Object(m)) => Ok(m),
        None => Err(Error::invalid_argument("`data` is required")),
        Some(_) => Err(Error::invalid_argument("`data` must be a JSON object")),
    }
}

/// Serializes `data`, refusing what is too deep or too large.
pub fn encode_data(data: &Map<String, Value>, max_bytes: usize) -> Result<String, Error> {
    let depth = data.values().map(basalt_core::json::depth).max().unwrap_or(0) + 1;
    if depth > MAX_DEPTH {
        return Err(Error::invalid_argument(format!(
            "`data` is nested {depth} levels deep; at most {MAX_DEPTH} are allowed"
        )));
    }
    if data.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) {
        return Err(Error::invalid_argument(
            "text in `data` may not contain the NUL character (U+0000)",
        ));
    }
    let text = serde_json::to_string(data).map_err(Error::internal)?;
    if text.len() > max_bytes {
        return Err(Error::new(
            Code::PayloadTooLarge,
            format!(
                "the document's data is {} bytes; at most {max_bytes} are allowed",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// Whether a string (or key) anywhere in `v` holds U+0000, which
/// PostgreSQL's jsonb cannot store; refused on every backend alike.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        for ok in ["posts", "a", "user_profiles2"] {
            assert!(check_collection_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Posts",
            "1posts",
            "posts;drop",
            "po sts",
            &"a".repeat(64),
            "_x",
            "é",
        ] {
            assert!(check_collection_name(bad).is_err(), "{bad}");
        }
        for ok in ["a", "01JD3", "x_y-z", &"a".repeat(128)] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a.b", "' OR 1=1 --", &"a".repeat(129), "ü"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
