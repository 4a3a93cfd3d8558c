//! The conditions of a rule, for the playground's `explain`: every operand
//! of a top-level `&&`, `||` or `!`, found by a scanner that knows Rhai's
//! strings, comments and brackets. A rule that is more than one expression
//! (statements, `let`, `if`) is explained as a whole only.

/// One condition: a byte range of the rule's text and how deeply it nests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub start: usize,
    pub end: usize,
    /// 0 for an operand of the outermost operator.
    pub depth: usize,
}

/// At most this many conditions are explained.
pub const MAX_CONDITIONS: usize = 64;

/// A byte of the text outside strings and comments, with its bracket depth.
struct Scan {
    /// (offset, byte, depth before it) for each byte outside strings and comments.
    code: Vec<(usize, u8, i32)>,
    /// Whether the brackets balanced and every string and comment ended.
    balanced: bool,
}

fn scan(text: &str) -> Scan {
    let b = text.as_bytes();
    let mut code = Vec::with_capacity(b.len());
    let (mut i, mut depth, mut balanced) = (0usize, 0i32, true);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => {
                let quote = b[i];
                i += 1;
                while i < b.len() && b[i] != quote {
                    // A backslash escapes the next byte (not in back-tick strings).
                    i += if b[i] == b'\\' && quote != b'`' { 2 } else { 1 };
                }
                if i >= b.len() {
                    balanced = false;
                }
                // Stand in for the whole literal, so operands keep their strings.
                code.push((i.min(b.len()), b'_', depth));
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                match text[i + 2..].find("*/") {
                    Some(end) => i += end + 4,
                    None => {
                        balanced = false;
                        i = b.len();
                    }
                }
                continue;
            }
            c @ (b'(' | b'[' | b'{') => {
                code.push((i, c, depth));
                depth += 1;
            }
            c @ (b')' | b']' | b'}') => {
                depth -= 1;
                if depth < 0 {
                    balanced = false;
                }
                code.push((i, c, depth));
            }
            c => code.push((i, c, depth)),
        }
        i += 1;
    }
    Scan {
        code,
        balanced: balanced && depth == 0,
    }
}

/// The conditions of `text`, outermost first, in the order they start.
/// Empty when the rule is a single condition or is not one expression.
pub fn conditions(text: &str) -> Vec<Condition> {
    let s = scan(text);
    if !s.balanced {
        return Vec::new();
    }
    // Statements and blocks at the top level: explain the whole only.
    let words = top_level_words(text, &s);
    if s.code.iter().any(|&(_, c, d)| d == 0 && c == b';')
        || words.iter().any(|w| {
            matches!(
                *w,
                "let" | "const" | "if" | "fn" | "return" | "switch" | "while" | "loop" | "for"
            )
        })
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    split(text, &s, 0, text.len(), 0, &mut out);
    out.truncate(MAX_CONDITIONS);
    out
}

fn top_level_words<'a>(text: &'a str, s: &Scan) -> Vec<&'a str> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for &(i, c, d) in &s.code {
        let word = d == 0 && (c.is_ascii_alphanumeric() || c == b'_');
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                words.push(&text[st..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        words.push(&text[st..]);
    }
    words
}

/// `[start, end)` without leading whitespace, ending after its last code
/// byte (so trailing whitespace and comments stay out).
fn trim(text: &str, s: &Scan, start: usize, end: usize) -> (usize, usize) {
    let inner = &text[start..end];
    let start = start + (inner.len() - inner.trim_start().len());
    let end = within(s, start, end)
        .iter()
        .rev()
        .find(|b| !b.1.is_ascii_whitespace())
        .map_or(start, |b| b.0 + 1);
    (start, end.max(start))
}

/// The code bytes within `[start, end)`.
fn within(s: &Scan, start: usize, end: usize) -> &[(usize, u8, i32)] {
    let from = s.code.partition_point(|&(i, _, _)| i < start);
    let to = s.code.partition_point(|&(i, _, _)| i < end);
    &s.code[from..to]
}

/// Whether `[start, end)` is one bracket pair `( … )` around everything.
fn wrapped(text: &str, s: &Scan, start: usize, end: usize) -> bool {
    let bytes = within(s, start, end);
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if first.1 != b'(' || last.1 != b')' || first.0 != start || last.0 + 1 != end {
        return false;
    }
    // The opening bracket closes only at the end.
    let d = first.2;
    !bytes[1..bytes.len() - 1]
        .iter()
        .any(|&(_, c, depth)| c == b')' && depth == d)
        && !text.is_empty()
}

fn split(text: &str, s: &Scan, start: usize, end: usize, depth: usize, out: &mut Vec<Condition>) {
    if out.len() >= MAX_CONDITIONS {
        return;
    }
    let (mut start, mut end) = trim(text, s, start, end);
    while wrapped(text, s, start, end) {
        (start, end) = trim(text, s, start + 1, end - 1);
    }
    let bytes = within(s, start, end);
    let Some(base) = bytes.first().map(|b| b.2) else {
        return;
    };
    // `||` binds looser than `&&`: split on it first.
    for op in [b'|', b'&'] {
        // A run like `&&&&` is cut once per pair, not at every overlapping pair.
        let mut cuts: Vec<usize> = Vec::new();
        for w in bytes.windows(2) {
            let pair = w[0].2 == base && w[0].1 == op && w[1].1 == op && w[1].0 == w[0].0 + 1;
            if pair && cuts.last().is_none_or(|&last| w[0].0 >= last + 2) {
                cuts.push(w[0].0);
            }
        }
        if cuts.is_empty() {
            continue;
        }
        let mut from = start;
        for cut in cuts.into_iter().chain(std::iter::once(end)) {
            let (a, b) = trim(text, s, from, cut);
            if a < b {
                out.push(Condition {
                    start: a,
                    end: b,
                    depth,
                });
                split(text, s, a, b, depth + 1, out);
            }
            from = cut + 2;
        }
        return;
    }
    // `!( … )`: explain what it negates.
    if text[start..end].starts_with('!') {
        let (a, b) = trim(text, s, start + 1, end);
        if wrapped(text, s, a, b) {
            out.push(Condition {
                start: a,
                end: b,
                depth,
            });
            split(text, s, a, b, depth + 1, out);
        }
    }
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rule: &str) -> Vec<(String, usize)> {
        conditions(rule)
            .into_iter()
            .map(|c| (rule[c.start..c.end].to_owned(), c.depth))
            .collect()
    }

    #[test]
    fn operands_of_and_and_or() {
        assert_eq!(
            texts("a && (b || c)"),
            vec![
                ("a".into(), 0),
                ("(b || c)".into(), 0),
                ("b".into(), 1),
                ("c".into(), 1)
            ]
        );
        assert_eq!(
            texts("a && b || c"),
            vec![
                ("a && b".into(), 0),
                ("a".into(), 1),
                ("b".into(), 1),
                ("c".into(), 0)
            ]
        );
        assert_eq!(
            texts("!(x == 1 || y)"),
            vec![("(x == 1 || y)".into(), 0), ("x == 1".into(), 1), ("y".into(), 1)]
        );
    }

    #[test]
    fn strings_comments_and_calls_do_not_split() {
        assert_eq!(
            texts(r#"auth != () && doc.data.tag == "a && b" // x || y"#),
            vec![
                ("auth != ()".into(), 0),
                (r#"doc.data.tag == "a && b""#.into(), 0)
            ]
        );
        assert_eq!(
            texts("f(a && b) || g"),
            vec![("f(a && b)".into(), 0), ("g".into(), 0)]
        );
        assert_eq!(texts("auth.uid == doc.data.owner"), vec![]);
        assert_eq!(texts("(a)"), vec![]);
    }

    #[test]
    fn statements_and_broken_text_are_explained_whole() {
        assert_eq!(texts("let x = a; x && b"), vec![]);
        assert_eq!(texts("if a { b } else { c && d }"), vec![]);
        assert_eq!(texts("a && (b"), vec![]);
        assert_eq!(texts("a && \"b"), vec![]);
        assert_eq!(texts(""), vec![]);
    }

    /// Found by `fuzz/` (target `rules`): a run of three or more `&` or `|` made overlapping
    /// cuts, and slicing between them panicked.
    #[test]
    fn runs_of_operators_do_not_overlap() {
        assert_eq!(texts("a &&& b"), vec![("a".into(), 0), ("& b".into(), 0)]);
        assert_eq!(texts("a &&&& b"), vec![("a".into(), 0), ("b".into(), 0)]);
        assert_eq!(texts("a ||||| b"), vec![("a".into(), 0), ("| b".into(), 0)]);
        let found = "\0\0\0&&&&&&&\0\0\0\0\0\0\0\0\0\0\0\0\0\0I\0f";
        for c in conditions(found) {
            assert!(found.get(c.start..c.end).is_some());
        }
    }

    #[test]
    fn positions_are_one_based() {
        let rule = "a &&\n  b";
        assert_eq!(position(rule, 0), (1, 1));
        assert_eq!(position(rule, 7), (2, 3));
    }
}
