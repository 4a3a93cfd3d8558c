//! Email addresses, normalised at the edge.

use basalt_core::Error;

/// A trimmed, lowercased address with a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, Error> {
        // Lengths in characters, as the API's schema states them, of the
        // text as sent, blanks around it included (lowercasing may lengthen
        // some letters).
        let given = input.trim();
        let valid = input.chars().count() <= 254
            && given.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.chars().count() <= 64
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            })
            && !given.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Email(given.to_lowercase()))
        } else {
            Err(Error::invalid_argument("`email` is not a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a b@example.com",
            "ada@@example.com",
            "ada@.com",
            "ada@example..com",
            "ada@example.com\n",
        ] {
            assert!(Email::parse(bad).is_err() || bad.ends_with('\n'), "{bad:?}");
        }
        // A trailing newline is trimmed, not smuggled in.
        assert_eq!(
            Email::parse("ada@example.com\n").unwrap().as_str(),
            "ada@example.com"
        );
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        // 254 characters as sent, blanks included, as the schema's maxLength counts them.
        let long = format!("a@{}.com", "b".repeat(248));
        assert_eq!(long.chars().count(), 254);
        assert!(Email::parse(&long).is_ok());
        assert!(Email::parse(&format!(" {long}")).is_err());
    }
}
