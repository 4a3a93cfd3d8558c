//! Object paths, checked at the edge.

use basalt_core::Error;

/// 1 to 1024 bytes; no leading `/`, no empty, `.` or `..` segment, no
/// backslash and no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath(String);

/// What [`ObjectPath::parse`] accepts (with at most 1024 bytes), as a
/// JSON Schema pattern.
pub const PATTERN: &str = r"^(?!/)(?!.*//)(?!.*/$)(?!(?:.*/)?\.\.?(?:/|$))[^\u0000-\u001f\u007f-\u009f\\]+$";

impl ObjectPath {
    pub fn parse(path: &str) -> Result<ObjectPath, Error> {
        let bad = |why: &str| Err(Error::invalid_argument(format!("invalid object path: {why}")));
        if path.is_empty() || path.len() > 1024 {
            return bad("it must be 1 to 1024 bytes");
        }
        if path.starts_with('/') {
            return bad("it may not start with /");
        }
        if path.chars().any(|c| c.is_control() || c == '\\') {
            return bad("no control characters or backslashes");
        }
        if path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return bad("no empty, . or .. segments");
        }
        Ok(ObjectPath(path.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        for ok in ["a", "a/b.png", "photos/2026/ä ö.jpg", "x..y", ".hidden/file"] {
            assert!(ObjectPath::parse(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(1025);
        for bad in [
            "",
            "/a",
            "a//b",
            "a/../b",
            "..",
            "a/.",
            "a\\b",
            "a\u{0}b",
            "a\nb",
            long.as_str(),
        ] {
            assert!(ObjectPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
