//! Dot access for any field name. Rhai keeps words such as `public`,
//! `default`, `new` or `match` for itself and refuses them after a dot, yet
//! they are ordinary field names in apps (`doc.data.public`). Before a rule
//! or a function is compiled, `.word` with such a word becomes `["word"]`,
//! which means the same for a map; strings and comments are left alone, and
//! positions in compile errors are mapped back to the text as written.

use std::borrow::Cow;

/// Words Rhai refuses after a dot that apps use as field names: its
/// reserved words and the keywords that are not also property getters.
const WORDS: &[&str] = &[
    // Reserved for future use.
    "var",
    "static",
    "shared",
    "goto",
    "exit",
    "match",
    "case",
    "public",
    "protected",
    "new",
    "use",
    "with",
    "module",
    "package",
    "super",
    "spawn",
    "thread",
    "go",
    "sync",
    "async",
    "await",
    "yield",
    "default",
    "void",
    "null",
    "nil",
    // Keywords.
    "let",
    "const",
    "if",
    "else",
    "switch",
    "do",
    "while",
    "until",
    "loop",
    "for",
    "in",
    "continue",
    "break",
    "return",
    "throw",
    "try",
    "catch",
    "fn",
    "private",
    "import",
    "export",
    "as",
    "global",
    "this",
    "true",
    "false",
    "is",
];

/// Where a rewrite added characters: on `line` (1-based), at byte column
/// `column` (1-based, of the rewritten text), `added` more than written (fewer when blanks
/// between the dot and the name went away: `a.   public` is `a["public"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    line: usize,
    column: usize,
    added: isize,
}

/// The source with keyword properties quoted, and where it grew.
pub fn quote_keyword_properties(source: &str) -> (Cow<'_, str>, Vec<Shift>) {
    let bytes = source.as_bytes();
    let mut out: Option<String> = None;
    let mut shifts = Vec::new();
    let mut copied = 0; // bytes of `source` already in `out`
    let (mut line, mut line_start_out) = (1usize, 0usize);
    let mut i = 0;
    // The length of `out` as if everything up to `i` were copied.
    let out_len =
        |out: &Option<String>, copied: usize, i: usize| out.as_ref().map_or(i, |o| o.len() + (i - copied));
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                i += 1;
                line += 1;
                line_start_out = out_len(&out, copied, i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Rhai's block comments nest.
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if bytes[i] == b'\n' {
                            line += 1;
                            line_start_out = out_len(&out, copied, i + 1);
                        }
                        i += 1;
                    }
                }
            }
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    if i < bytes.len() && bytes[i] == b'\n' {
                        line += 1;
                        line_start_out = out_len(&out, copied, i + 1);
                    }
                    i += 1;
                }
                i += 1;
            }
            b'.' if i + 1 < bytes.len() && bytes[i + 1] != b'.' && (i == 0 || bytes[i - 1] != b'.') => {
                // Not a number's decimal point (`1.5`): what precedes is not a digit-only word.
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
                    j += 1;
                }
                let start = j;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                let word = &source[start..j];
                let after_call = source[j..].trim_start().starts_with('(');
                if !word.is_empty() && WORDS.contains(&word) && !after_call {
                    let o = out.get_or_insert_with(|| String::with_capacity(source.len() + 16));
                    o.push_str(&source[copied..i]);
                    let column = o.len() - line_start_out + 1;
                    o.push_str("[\"");
                    o.push_str(word);
                    o.push_str("\"]");
                    shifts.push(Shift {
                        line,
                        column,
                        added: (word.len() + 4) as isize - (j - i) as isize,
                    });
                    copied = j;
                }
                i = j.max(i + 1);
            }
            _ => i += 1,
        }
    }
    match out {
        None => (Cow::Borrowed(source), shifts),
        Some(mut o) => {
            o.push_str(&source[copied..]);
            (Cow::Owned(o), shifts)
        }
    }
}

/// A column of the rewritten text on `line`, as a column of the text as written.
pub fn original_column(shifts: &[Shift], line: usize, column: usize) -> usize {
    let added: isize = shifts
        .iter()
        .filter(|s| s.line == line && s.column < column)
        .map(|s| s.added)
        .sum();
    usize::try_from(column as isize - added).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        quote_keyword_properties(s).0.into_owned()
    }

    #[test]
    fn keyword_fields_are_quoted_and_nothing_else() {
        assert_eq!(quoted("doc.data.public == true"), "doc.data[\"public\"] == true");
        assert_eq!(quoted("doc.data.owner == auth.uid"), "doc.data.owner == auth.uid");
        assert_eq!(quoted("a?.default"), "a?[\"default\"]");
        assert_eq!(quoted("x.new.match"), "x[\"new\"][\"match\"]");
        // Strings, comments, ranges, numbers and method calls stay as written.
        assert_eq!(
            quoted("\"a.public\" == 'b' // c.public"),
            "\"a.public\" == 'b' // c.public"
        );
        assert_eq!(
            quoted("/* x.public /* y.new */ */ 1"),
            "/* x.public /* y.new */ */ 1"
        );
        assert_eq!(quoted("`t.${x}.public`"), "`t.${x}.public`");
        assert_eq!(quoted("0..10"), "0..10");
        assert_eq!(quoted("1.5 < x.is_ok"), "1.5 < x.is_ok");
        assert_eq!(quoted("s.is(1)"), "s.is(1)");
        assert!(matches!(quote_keyword_properties("auth.uid").0, Cow::Borrowed(_)));
    }

    #[test]
    fn columns_map_back_to_the_text_as_written() {
        let src = "doc.data.public &&\n  doc.data.default == x.new + y";
        let (out, shifts) = quote_keyword_properties(src);
        assert_eq!(
            out,
            "doc.data[\"public\"] &&\n  doc.data[\"default\"] == x[\"new\"] + y"
        );
        // `y` is at column 31 as written, 38 once rewritten.
        let line2 = out.lines().nth(1).unwrap();
        let col = line2.find('y').unwrap() + 1;
        assert_eq!(original_column(&shifts, 2, col), 31);
        assert_eq!(original_column(&shifts, 1, 5), 5);
    }

    /// Found by `fuzz/` (target `rules`): blanks between the dot and the name made the rewrite
    /// shorter than the text, and the column arithmetic underflowed.
    #[test]
    fn blanks_after_the_dot_shorten_the_text() {
        let src = "a.      public == x";
        let (out, shifts) = quote_keyword_properties(src);
        assert_eq!(out, "a[\"public\"] == x");
        let col = out.find('x').unwrap() + 1;
        assert_eq!(original_column(&shifts, 1, col), src.find('x').unwrap() + 1);
    }
}
