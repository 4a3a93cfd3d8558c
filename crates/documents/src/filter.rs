//! Query filters: parsed once from JSON into an AST with checked paths and
//! operands, then evaluated in memory or compiled to SQL (one semantics).
//!
//! A filter is `[path, op, value]`, `{"and": [filters]}` or `{"or": [filters]}`;
//! a list of filters means AND. Comparisons only match values of the
//! operand's JSON type: a number never equals a string, and a document
//! without the field matches nothing but `["field", "exists", false]`.

use basalt_core::{Error, Timestamp};
use serde_json::{Map, Value};

/// Most conditions one query may hold, and the longest `in` list.
pub const MAX_CONDITIONS: usize = 100;
pub const MAX_IN_VALUES: usize = 100;
/// Deepest nesting of `and` / `or`.
pub const MAX_DEPTH: usize = 8;
const MAX_PATH_SEGMENTS: usize = 16;

/// Where a condition looks: document metadata or a dotted path in `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Id,
    CreatedAt,
    UpdatedAt,
    Data(Vec<String>),
}

impl Field {
    pub fn parse(path: &str) -> Result<Field, Error> {
        match path {
            "id" => return Ok(Field::Id),
            "created_at" => return Ok(Field::CreatedAt),
            "updated_at" => return Ok(Field::UpdatedAt),
            _ => {}
        }
        let segments: Vec<&str> = path.split('.').collect();
        let valid = !path.is_empty()
            && segments.len() <= MAX_PATH_SEGMENTS
            && segments.iter().all(|s| {
                !s.is_empty()
                    && s.len() <= 64
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if !valid {
            return Err(Error::invalid_argument(format!(
                "invalid field path `{path}`: dotted segments of letters, digits, _ and - (at most {MAX_PATH_SEGMENTS})"
            )));
        }
        Ok(Field::Data(segments.into_iter().map(str::to_owned).collect()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    ArrayContains,
    ArrayContainsAny,
    Exists,
    Prefix,
}

impl Op {
    fn parse(op: &str) -> Result<Op, Error> {
        Ok(match op {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "array_contains" => Op::ArrayContains,
            "array_contains_any" => Op::ArrayContainsAny,
            "exists" => Op::Exists,
            "prefix" => Op::Prefix,
            other => return Err(Error::invalid_argument(format!("unknown operator `{other}`"))),
        })
    }
}

/// An operand: a scalar JSON value (objects and arrays are not compared).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

impl Scalar {
    fn from_json(v: &Value) -> Result<Scalar, Error> {
        Ok(match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::Number(
                n.as_f64()
                    .ok_or_else(|| Error::invalid_argument("a number in the filter is out of range"))?,
            ),
            // No stored string can hold NUL (it is refused on write).
            Value::String(s) if s.contains('\0') => {
                return Err(Error::invalid_argument(
                    "filter strings may not contain the NUL character (U+0000)",
                ));
            }
            Value::String(s) => Scalar::String(s.clone()),
            _ => {
                return Err(Error::invalid_argument(
                    "filter values are strings, numbers, booleans or null",
                ));
            }
        })
    }

    /// Typed equality: only values of one JSON type are ever equal.
    fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Null, Value::Null) => true,
            (Scalar::Bool(a), Value::Bool(b)) => a == b,
            (Scalar::Number(a), Value::Number(b)) => b.as_f64() == Some(*a),
            (Scalar::String(a), Value::String(b)) => a == b,
            _ => false,
        }
    }

    /// Ordering against a value of the same type; `None` across types.
    fn compare(&self, v: &Value) -> Option<std::cmp::Ordering> {
        match (self, v) {
            (Scalar::Number(a), Value::Number(b)) => b.as_f64()?.partial_cmp(a),
            (Scalar::String(a), Value::String(b)) => Some(b.as_str().cmp(a.as_str())),
            _ => None,
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Condition { field: Field, op: Op, operand: Operand },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    One(Scalar),
    Many(Vec<Scalar>),
    Exists(bool),
    /// Metadata times, as milliseconds.
    Time(i64),
    Times(Vec<i64>),
}

/// The parts of a document a filter reads.
pub struct DocumentView<'a> {
    pub id: &'a str,
    pub created_at: i64,
    pub updated_at: i64,
    pub data: &'a Map<String, Value>,
}

impl Filter {
    /// Parses a `where` clause.
    pub fn parse(value: &Value) -> Result<Filter, Error> {
        let mut conditions = 0;
        let f = parse(value, 0, &mut conditions)?;
        if conditions > MAX_CONDITIONS {
            return Err(Error::invalid_argument(format!(
                "a filter holds at most {MAX_CONDITIONS} conditions"
            )));
        }
        Ok(f)
    }

    /// Whether a document matches (the in-memory evaluator).
    pub fn matches(&self, doc: &DocumentView<'_>) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(doc)),
            Filter::Or(any) => any.iter().any(|f| f.matches(doc)),
            Filter::Condition { field, op, operand } => condition(field, *op, operand, doc),
        }
    }
}

fn parse(value: &Value, depth: usize, conditions: &mut usize) -> Result<Filter, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid_argument(format!(
            "filters nest at most {MAX_DEPTH} levels deep"
        )));
    }
    match value {
        // `[path, op, value]` when it starts with a string; otherwise a list of filters (AND).
        Value::Array(items) if items.first().is_some_and(Value::is_string) => {
            *conditions += 1;
            parse_condition(items)
        }
        Value::Array(items) => Ok(Filter::And(
            items
                .iter()
                .map(|f| parse(f, depth + 1, conditions))
                .collect::<Result<_, _>>()?,
        )),
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next().expect("one entry");
            let list = inner
                .as_array()
                .ok_or_else(|| Error::invalid_argument(format!("`{key}` takes a list of filters")))?;
            let parts = list
                .iter()
                .map(|f| parse(f, depth + 1, conditions))
                .collect::<Result<Vec<_>, _>>()?;
            match key.as_str() {
                "and" => Ok(Filter::And(parts)),
                "or" => Ok(Filter::Or(parts)),
                other => Err(Error::invalid_argument(format!(
                    "unknown filter `{other}`: use `and` or `or`"
                ))),
            }
        }
        _ => Err(Error::invalid_argument(
            "a filter is [path, op, value], {\"and\": [...]}, {\"or\": [...]} or a list of filters",
        )),
    }
}

fn parse_condition(items: &[Value]) -> Result<Filter, Error> {
    let [path, op, value] = items else {
        return Err(Error::invalid_argument("a condition is [path, op, value]"));
    };
    let path = path.as_str().unwrap_or_default();
    let op = Op::parse(
        op.as_str()
            .ok_or_else(|| Error::invalid_argument("the operator must be a string"))?,
    )?;
    let field = Field::parse(path)?;
    let is_time = matches!(field, Field::CreatedAt | Field::UpdatedAt);
    let time = |v: &Value| -> Result<i64, Error> {
        v.as_str()
            .and_then(Timestamp::parse)
            .map(Timestamp::millis)
            .ok_or_else(|| Error::invalid_argument(format!("`{path}` compares with an RFC 3339 time")))
    };
    fn list<'v>(v: &'v Value, path: &str) -> Result<&'v Vec<Value>, Error> {
        let list = v
            .as_array()
            .ok_or_else(|| Error::invalid_argument(format!("`{path}` with this operator takes a list")))?;
        if list.is_empty() || list.len() > MAX_IN_VALUES {
            return Err(Error::invalid_argument(format!(
                "lists in filters hold 1 to {MAX_IN_VALUES} values"
            )));
        }
        Ok(list)
    }
    let operand = match op {
        Op::Exists => Operand::Exists(
            value
                .as_bool()
                .ok_or_else(|| Error::invalid_argument("`exists` takes true or false"))?,
        ),
        Op::In | Op::NotIn if is_time => {
            Operand::Times(list(value, path)?.iter().map(time).collect::<Result<_, _>>()?)
        }
        Op::In | Op::NotIn | Op::ArrayContainsAny => Operand::Many(
            list(value, path)?
                .iter()
                .map(Scalar::from_json)
                .collect::<Result<_, _>>()?,
        ),
        _ if is_time => Operand::Time(time(value)?),
        Op::Prefix => match value {
            Value::String(s) => Operand::One(Scalar::String(s.clone())),
            _ => return Err(Error::invalid_argument("`prefix` takes a string")),
        },
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match Scalar::from_json(value)? {
            s @ (Scalar::Number(_) | Scalar::String(_)) => Operand::One(s),
            _ => return Err(Error::invalid_argument("ordering compares numbers or strings")),
        },
        _ => Operand::One(Scalar::from_json(value)?),
    };
    if is_time && matches!(op, Op::ArrayContains | Op::ArrayContainsAny | Op::Prefix) {
        return Err(Error::invalid_argument(format!(
            "`{path}` is a time: compare it, or use in / exists"
        )));
    }
    if field == Field::Id && matches!(op, Op::ArrayContains | Op::ArrayContainsAny) {
        return Err(Error::invalid_argument("`id` is a string: it holds no array"));
    }
    Ok(Filter::Condition { field, op, operand })
}

impl Filter {
    /// The type rank (see `order::Key`) every match has at `field`, when a
    /// condition that must hold (at the top level, under `and`) fixes it.
    pub fn pinned_rank(&self, field: &Field) -> Option<i64> {
        match self {
            Filter::And(all) => all.iter().find_map(|f| f.pinned_rank(field)),
            Filter::Or(_) => None,
            Filter::Condition {
                field: f,
                op,
                operand,
            } if f == field => match (op, operand) {
                (Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge, Operand::One(s)) => Some(match s {
                    Scalar::Null => 1,
                    Scalar::Bool(_) => 2,
                    Scalar::Number(_) => 3,
                    Scalar::String(_) => 4,
                }),
                (Op::Prefix, _) => Some(4),
                _ => None,
            },
            Filter::Condition { .. } => None,
        }
    }
}

/// The value a data path points at, if present.
pub fn lookup<'a>(data: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut v = data.get(first)?;
    for seg in rest {
        v = v.as_object()?.get(seg)?;
    }
    Some(v)
}

fn condition(field: &Field, op: Op, operand: &Operand, doc: &DocumentView<'_>) -> bool {
    let time = match field {
        Field::CreatedAt => Some(doc.created_at),
        Field::UpdatedAt => Some(doc.updated_at),
        _ => None,
    };
    if let Some(t) = time {
        return match (op, operand) {
            (Op::Eq, Operand::Time(x)) => t == *x,
            (Op::Ne, Operand::Time(x)) => t != *x,
            (Op::Lt, Operand::Time(x)) => t < *x,
            (Op::Le, Operand::Time(x)) => t <= *x,
            (Op::Gt, Operand::Time(x)) => t > *x,
            (Op::Ge, Operand::Time(x)) => t >= *x,
            (Op::In, Operand::Times(xs)) => xs.contains(&t),
            (Op::NotIn, Operand::Times(xs)) => !xs.contains(&t),
            (Op::Exists, Operand::Exists(e)) => *e,
            _ => false,
        };
    }
    let id_value;
    let value = match field {
        Field::Id => {
            id_value = Value::String(doc.id.to_owned());
            Some(&id_value)
        }
        Field::Data(path) => lookup(doc.data, path),
        _ => None,
    };
    if let (Op::Exists, Operand::Exists(e)) = (op, operand) {
        return value.is_some() == *e;
    }
    let Some(value) = value else { return false };
    match (op, operand) {
        (Op::Eq, Operand::One(s)) => s.matches(value),
        // Same type, different value.
        (Op::Ne, Operand::One(s)) => s.compare(value).is_some_and(|o| o.is_ne()) || ne_same_type(s, value),
        (Op::Lt, Operand::One(s)) => s.compare(value).is_some_and(|o| o.is_lt()),
        (Op::Le, Operand::One(s)) => s.compare(value).is_some_and(|o| o.is_le()),
        (Op::Gt, Operand::One(s)) => s.compare(value).is_some_and(|o| o.is_gt()),
        (Op::Ge, Operand::One(s)) => s.compare(value).is_some_and(|o| o.is_ge()),
        (Op::In, Operand::Many(xs)) => xs.iter().any(|s| s.matches(value)),
        // Present, of a type some listed value has, and equal to none of them.
        (Op::NotIn, Operand::Many(xs)) => {
            xs.iter().any(|s| same_type(s, value)) && !xs.iter().any(|s| s.matches(value))
        }
        (Op::ArrayContains, Operand::One(s)) => {
            value.as_array().is_some_and(|a| a.iter().any(|v| s.matches(v)))
        }
        (Op::ArrayContainsAny, Operand::Many(xs)) => value
            .as_array()
            .is_some_and(|a| a.iter().any(|v| xs.iter().any(|s| s.matches(v)))),
        (Op::Prefix, Operand::One(Scalar::String(p))) => {
            value.as_str().is_some_and(|v| v.starts_with(p.as_str()))
        }
        _ => false,
    }
}

fn same_type(s: &Scalar, v: &Value) -> bool {
    matches!(
        (s, v),
        (Scalar::Null, Value::Null)
            | (Scalar::Bool(_), Value::Bool(_))
            | (Scalar::Number(_), Value::Number(_))
            | (Scalar::String(_), Value::String(_))
    )
}

/// `!=` for the types without an order (booleans; null is never unequal to null).
fn ne_same_type(s: &Scalar, v: &Value) -> bool {
    matches!((s, v), (Scalar::Bool(a), Value::Bool(b)) if a != b)
}

/// A field path as [`Field::parse`] takes it, as a JSON Schema pattern.
pub const FIELD_PATTERN: &str = r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,15}$";

/// The filter's shape for the OpenAPI document: a condition
/// `[path, op, value]` (the value's type depends on the operator), `{"and":
/// [...]}`, `{"or": [...]}`, or a list of filters (all must hold).
pub struct FilterSchema;

impl schemars::JsonSchema for FilterSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Filter".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let me = serde_json::json!({"$ref": "#/components/schemas/Filter"});
        let condition = |ops: &[&str], value: Value| {
            serde_json::json!({
                "type": "array",
                "prefixItems": [{"type": "string", "pattern": FIELD_PATTERN}, {"enum": ops}, value],
                "minItems": 3,
                "maxItems": 3,
            })
        };
        let list = serde_json::json!({"type": "array", "minItems": 1, "maxItems": MAX_IN_VALUES});
        let mut one = vec![
            condition(&["==", "!="], serde_json::json!({})),
            condition(
                &["<", "<=", ">", ">="],
                serde_json::json!({"type": ["number", "string"]}),
            ),
            condition(&["array_contains"], serde_json::json!({})),
            condition(&["in", "not_in", "array_contains_any"], list),
            condition(&["exists"], serde_json::json!({"type": "boolean"})),
            condition(&["prefix"], serde_json::json!({"type": "string"})),
            serde_json::json!({"type": "object", "properties": {"and": {"type": "array", "items": me}}, "required": ["and"], "additionalProperties": false}),
            serde_json::json!({"type": "object", "properties": {"or": {"type": "array", "items": me}}, "required": ["or"], "additionalProperties": false}),
        ];
        // A list holds conditions, `and` and `or` (a list in a list is
        // spelled as `and`, which keeps the type finite for generators).
        let items = serde_json::json!({"anyOf": one.clone()});
        one.push(serde_json::json!({"type": "array", "items": items}));
        let schema = serde_json::json!({
            "description": "`[path, op, value]`, `{\"and\": [...]}`, `{\"or\": [...]}`, or a list of them (all must hold); at most 100 conditions in all.",
            "anyOf": one,
        });
        schemars::Schema::try_from(schema).expect("an object")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: Value, data: Value) -> bool {
        let f = Filter::parse(&filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        let doc = DocumentView {
            id: "d1",
            created_at: 1_000,
            updated_at: 2_000,
            data: data.as_object().unwrap(),
        };
        f.matches(&doc)
    }

    #[test]
    fn typed_comparisons() {
        let d = json!({"age": 30, "name": "Ada", "ok": true, "none": null, "addr": {"city": "Oslo"}, "tags": ["a", "b"]});
        let cases = [
            (json!(["age", "==", 30]), true),
            (json!(["age", "==", "30"]), false),
            (json!(["age", "!=", 31]), true),
            (json!(["age", "!=", "x"]), false),
            (json!(["missing", "!=", 1]), false),
            (json!(["age", ">=", 18]), true),
            (json!(["age", "<", 30]), false),
            (json!(["name", ">", "Ab"]), true),
            (json!(["name", ">", 1]), false),
            (json!(["ok", "==", true]), true),
            (json!(["ok", "!=", false]), true),
            (json!(["none", "==", null]), true),
            (json!(["none", "!=", null]), false),
            (json!(["addr.city", "==", "Oslo"]), true),
            (json!(["addr.city.x", "==", "Oslo"]), false),
            (json!(["age", "in", [1, 30]]), true),
            (json!(["age", "in", ["30"]]), false),
            (json!(["age", "not_in", [1, 2]]), true),
            (json!(["age", "not_in", [30]]), false),
            (json!(["age", "not_in", ["a"]]), false),
            (json!(["missing", "not_in", [1]]), false),
            (json!(["tags", "array_contains", "b"]), true),
            (json!(["tags", "array_contains", "c"]), false),
            (json!(["tags", "array_contains_any", ["x", "a"]]), true),
            (json!(["name", "array_contains", "Ada"]), false),
            (json!(["missing", "exists", false]), true),
            (json!(["none", "exists", true]), true),
            (json!(["name", "prefix", "Ad"]), true),
            (json!(["age", "prefix", "3"]), false),
            (json!(["id", "==", "d1"]), true),
            (json!(["id", "prefix", "d"]), true),
            (json!(["created_at", "<", "1970-01-01T00:00:01.500Z"]), true),
            (json!(["updated_at", ">=", "1970-01-01T00:00:02Z"]), true),
            (json!(["created_at", "in", ["1970-01-01T00:00:01Z"]]), true),
        ];
        for (filter, expected) in cases {
            assert_eq!(check(filter.clone(), d.clone()), expected, "{filter}");
        }
    }

    #[test]
    fn and_or_and_lists() {
        let d = json!({"age": 30, "city": "Bergen"});
        assert!(check(
            json!([["age", ">=", 18], {"or": [["city", "==", "Oslo"], ["city", "==", "Bergen"]]}]),
            d.clone()
        ));
        assert!(!check(
            json!({"and": [["age", ">=", 18], ["city", "==", "Oslo"]]}),
            d.clone()
        ));
        assert!(check(json!([]), d.clone()), "no conditions match everything");
        assert!(!check(json!({"or": []}), d));
    }

    #[test]
    fn hostile_filters_are_refused() {
        let deep = (0..20).fold(json!(["a", "==", 1]), |acc, _| json!({"and": [acc]}));
        let many = Value::Array((0..101).map(|i| json!(["a", "==", i])).collect());
        let big_in = json!(["a", "in", (0..101).collect::<Vec<_>>()]);
        for bad in [
            json!(["a", "~", 1]),
            json!(["a; DROP TABLE x", "==", 1]),
            json!(["a..b", "==", 1]),
            json!(["", "==", 1]),
            json!(["a", "==", {"x": 1}]),
            json!(["a", "==", [1]]),
            json!(["a", "<", true]),
            json!(["a", "in", 5]),
            json!(["a", "in", []]),
            json!(["a", "exists", 1]),
            json!(["a", "prefix", 5]),
            json!(["created_at", "<", "yesterday"]),
            json!(["created_at", "prefix", "2026"]),
            json!(["id", "array_contains", "x"]),
            json!(["a", "=="]),
            json!({"xor": []}),
            json!({"and": 5}),
            json!(5),
            deep,
            many,
            big_in,
        ] {
            assert!(Filter::parse(&bad).is_err(), "{bad}");
        }
    }
}
