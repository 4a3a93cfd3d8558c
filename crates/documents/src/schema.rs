//! JSON Schema (draft 2020-12) for collection data: compiled when a
//! collection is saved, checked on every write.
//!
//! The applicator and validation vocabularies are supported, with `$ref` to
//! anywhere in the same schema (`#`, `#/$defs/x`, any JSON pointer). Keywords
//! that need a resolver or annotation tracking (`$dynamicRef`, remote `$ref`,
//! `unevaluatedProperties`, `unevaluatedItems`) are refused when the schema is
//! saved, so a schema never silently means less than it says. `format` is an
//! annotation, as the draft's default says.

use std::collections::HashMap;

use basalt_core::Error;
use regex::Regex;
use serde_json::{Map, Value};

/// Most errors reported for one document.
const MAX_ERRORS: usize = 50;
/// How deep `$ref`s may chain during one check (a recursive schema over deep data).
const MAX_REF_DEPTH: usize = 64;

#[derive(Debug)]
pub struct Schema {
    root: Value,
    patterns: HashMap<String, Regex>,
}

/// One way a document fails its schema.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SchemaError {
    /// A JSON pointer into `data` (`/address/city`), empty for `data` itself.
    pub path: String,
    pub message: String,
}

const UNSUPPORTED: [&str; 5] = [
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "unevaluatedProperties",
    "unevaluatedItems",
];

const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];

impl Schema {
    /// Checks a schema's shape and compiles its patterns.
    pub fn compile(root: &Value) -> Result<Schema, Error> {
        let mut patterns = HashMap::new();
        check(root, root, "", &mut patterns, 0)?;
        Ok(Schema {
            root: root.clone(),
            patterns,
        })
    }

    pub fn source(&self) -> &Value {
        &self.root
    }

    /// Every failure (up to a bound), or none.
    pub fn validate(&self, data: &Value) -> Vec<SchemaError> {
        let mut v = Validator {
            schema: self,
            errors: Vec::new(),
            path: Vec::new(),
        };
        v.check(&self.root, data, 0);
        v.errors
    }
}

fn bad(at: &str, msg: impl std::fmt::Display) -> Error {
    let at = if at.is_empty() { "#" } else { at };
    Error::invalid_argument(format!("invalid schema at {at}: {msg}"))
}

/// Walks a schema once at save time: types of keywords, patterns, refs.
fn check(
    root: &Value,
    s: &Value,
    at: &str,
    patterns: &mut HashMap<String, Regex>,
    depth: usize,
) -> Result<(), Error> {
    if depth > 64 {
        return Err(bad(at, "nested too deeply"));
    }
    let m = match s {
        Value::Bool(_) => return Ok(()),
        Value::Object(m) => m,
        _ => return Err(bad(at, "a schema is an object or a boolean")),
    };
    for k in UNSUPPORTED {
        if m.contains_key(k) {
            return Err(bad(at, format!("`{k}` is not supported")));
        }
    }
    if let Some(schema) = m.get("$schema").and_then(Value::as_str)
        && !schema.contains("2020-12")
    {
        return Err(bad(at, "only draft 2020-12 schemas are supported"));
    }
    if let Some(r) = m.get("$ref") {
        let r = r.as_str().ok_or_else(|| bad(at, "`$ref` must be a string"))?;
        if resolve(root, r).is_none() {
            return Err(bad(
                at,
                format!("`$ref` {r} does not point into this schema (only local references are supported)"),
            ));
        }
    }
    if let Some(t) = m.get("type") {
        let names: Vec<&Value> = match t {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for n in names {
            if !n.as_str().is_some_and(|n| TYPES.contains(&n)) {
                return Err(bad(at, format!("unknown type {n}")));
            }
        }
    }
    for k in [
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    ] {
        if let Some(v) = m.get(k)
            && !v.is_number()
        {
            return Err(bad(at, format!("`{k}` must be a number")));
        }
    }
    if m.get("multipleOf")
        .and_then(Value::as_f64)
        .is_some_and(|x| x <= 0.0)
    {
        return Err(bad(at, "`multipleOf` must be greater than 0"));
    }
    for k in [
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minContains",
        "maxContains",
    ] {
        if let Some(v) = m.get(k)
            && v.as_u64().is_none()
        {
            return Err(bad(at, format!("`{k}` must be a non-negative integer")));
        }
    }
    if let Some(p) = m.get("pattern") {
        let p = p.as_str().ok_or_else(|| bad(at, "`pattern` must be a string"))?;
        compile_pattern(p, at, patterns)?;
    }
    if let Some(r) = m.get("required")
        && !r.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(bad(at, "`required` must be a list of strings"));
    }
    if let Some(e) = m.get("enum")
        && !e.is_array()
    {
        return Err(bad(at, "`enum` must be a list"));
    }
    if let Some(d) = m.get("dependentRequired") {
        let ok = d.as_object().is_some_and(|d| {
            d.values()
                .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
        });
        if !ok {
            return Err(bad(at, "`dependentRequired` maps names to lists of names"));
        }
    }
    // Sub-schemas.
    for k in [
        "additionalProperties",
        "propertyNames",
        "items",
        "contains",
        "not",
        "if",
        "then",
        "else",
    ] {
        if let Some(sub) = m.get(k) {
            check(root, sub, &format!("{at}/{k}"), patterns, depth + 1)?;
        }
    }
    for k in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(list) = m.get(k) {
            let list = list
                .as_array()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| bad(at, format!("`{k}` must be a non-empty list of schemas")))?;
            for (i, sub) in list.iter().enumerate() {
                check(root, sub, &format!("{at}/{k}/{i}"), patterns, depth + 1)?;
            }
        }
    }
    for k in ["properties", "patternProperties", "$defs", "dependentSchemas"] {
        if let Some(map) = m.get(k) {
            let map = map
                .as_object()
                .ok_or_else(|| bad(at, format!("`{k}` must be an object of schemas")))?;
            for (name, sub) in map {
                if k == "patternProperties" {
                    compile_pattern(name, at, patterns)?;
                }
                check(root, sub, &format!("{at}/{k}/{name}"), patterns, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn compile_pattern(p: &str, at: &str, patterns: &mut HashMap<String, Regex>) -> Result<(), Error> {
    if !patterns.contains_key(p) {
        let re = regex::RegexBuilder::new(p)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| bad(at, format!("pattern `{p}`: {e}")))?;
        patterns.insert(p.to_owned(), re);
    }
    Ok(())
}

/// A local reference: `#` or `#/json/pointer`.
fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let pointer = r.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    let decoded = percent_decode(pointer)?;
    root.pointer(&decoded)
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

struct Validator<'s> {
    schema: &'s Schema,
    errors: Vec<SchemaError>,
    path: Vec<String>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "integer" => match v {
            Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
            _ => false,
        },
        t => type_name(v) == t,
    }
}

/// JSON equality where 1 and 1.0 are the same number.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

impl Validator<'_> {
    fn fail(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            let path = self
                .path
                .iter()
                .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
                .collect();
            self.errors.push(SchemaError { path, message });
        }
    }

    /// Whether `data` passes `s`, without recording errors.
    fn passes(&self, s: &Value, data: &Value, depth: usize) -> bool {
        let mut probe = Validator {
            schema: self.schema,
            errors: Vec::new(),
            path: Vec::new(),
        };
        probe.check(s, data, depth);
        probe.errors.is_empty()
    }

    fn at<F: FnOnce(&mut Self)>(&mut self, segment: String, f: F) {
        self.path.push(segment);
        f(self);
        self.path.pop();
    }

    fn check(&mut self, s: &Value, data: &Value, depth: usize) {
        let m = match s {
            Value::Bool(true) => return,
            Value::Bool(false) => return self.fail("no value is allowed here".into()),
            Value::Object(m) => m,
            _ => return,
        };
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            if depth >= MAX_REF_DEPTH {
                return self.fail("the schema's references nest too deeply for this value".into());
            }
            if let Some(target) = resolve(&self.schema.root, r) {
                self.check(target, data, depth + 1);
            }
        }
        if let Some(t) = m.get("type") {
            let ok = match t {
                Value::String(t) => is_type(data, t),
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| is_type(data, t)),
                _ => true,
            };
            if !ok {
                self.fail(format!("expected {}, got {}", type_list(t), type_name(data)));
                return;
            }
        }
        if let Some(list) = m.get("enum").and_then(Value::as_array)
            && !list.iter().any(|v| equal(v, data))
        {
            self.fail("not one of the allowed values".into());
        }
        if let Some(c) = m.get("const")
            && !equal(c, data)
        {
            self.fail(format!("must be {c}"));
        }
        match data {
            Value::Number(n) => self.number(m, n.as_f64().unwrap_or(f64::NAN)),
            Value::String(text) => self.string(m, text),
            Value::Array(items) => self.array(m, items, depth),
            Value::Object(map) => self.object(m, map, depth),
            _ => {}
        }
        for sub in m.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.check(sub, data, depth + 1);
        }
        if let Some(list) = m.get("anyOf").and_then(Value::as_array)
            && !list.iter().any(|sub| self.passes(sub, data, depth + 1))
        {
            self.fail("matches none of the schemas in anyOf".into());
        }
        if let Some(list) = m.get("oneOf").and_then(Value::as_array) {
            let n = list
                .iter()
                .filter(|sub| self.passes(sub, data, depth + 1))
                .count();
            if n != 1 {
                self.fail(format!("must match exactly one schema in oneOf, matches {n}"));
            }
        }
        if let Some(not) = m.get("not")
            && self.passes(not, data, depth + 1)
        {
            self.fail("matches the schema in `not`".into());
        }
        if let Some(cond) = m.get("if") {
            let branch = if self.passes(cond, data, depth + 1) {
                m.get("then")
            } else {
                m.get("else")
            };
            if let Some(b) = branch {
                self.check(b, data, depth + 1);
            }
        }
    }

    fn number(&mut self, m: &Map<String, Value>, x: f64) {
        let get = |k: &str| m.get(k).and_then(Value::as_f64);
        if let Some(min) = get("minimum")
            && x < min
        {
            self.fail(format!("must be at least {min}"));
        }
        if let Some(max) = get("maximum")
            && x > max
        {
            self.fail(format!("must be at most {max}"));
        }
        if let Some(min) = get("exclusiveMinimum")
            && x <= min
        {
            self.fail(format!("must be greater than {min}"));
        }
        if let Some(max) = get("exclusiveMaximum")
            && x >= max
        {
            self.fail(format!("must be less than {max}"));
        }
        if let Some(d) = get("multipleOf") {
            let q = x / d;
            if !q.is_finite() || (q - q.round()).abs() > 1e-9 {
                self.fail(format!("must be a multiple of {d}"));
            }
        }
    }

    fn string(&mut self, m: &Map<String, Value>, s: &str) {
        let len = s.chars().count() as u64;
        if let Some(min) = m.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            self.fail(format!("must be at least {min} characters long"));
        }
        if let Some(max) = m.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            self.fail(format!("must be at most {max} characters long"));
        }
        if let Some(p) = m.get("pattern").and_then(Value::as_str)
            && let Some(re) = self.schema.patterns.get(p)
            && !re.is_match(s)
        {
            self.fail(format!("must match the pattern {p}"));
        }
    }

    fn array(&mut self, m: &Map<String, Value>, items: &[Value], depth: usize) {
        let n = items.len() as u64;
        if let Some(min) = m.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            self.fail(format!("must have at least {min} items"));
        }
        if let Some(max) = m.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            self.fail(format!("must have at most {max} items"));
        }
        if m.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            let dup = items
                .iter()
                .enumerate()
                .any(|(i, a)| items[i + 1..].iter().any(|b| equal(a, b)));
            if dup {
                self.fail("items must be unique".into());
            }
        }
        let prefix = m.get("prefixItems").and_then(Value::as_array);
        let skip = prefix.map_or(0, Vec::len);
        if let Some(prefix) = prefix {
            for (i, (sub, item)) in prefix.iter().zip(items).enumerate() {
                self.at(i.to_string(), |v| v.check(sub, item, depth + 1));
            }
        }
        if let Some(sub) = m.get("items") {
            for (i, item) in items.iter().enumerate().skip(skip) {
                self.at(i.to_string(), |v| v.check(sub, item, depth + 1));
            }
        }
        if let Some(sub) = m.get("contains") {
            let found = items
                .iter()
                .filter(|item| self.passes(sub, item, depth + 1))
                .count() as u64;
            let min = m.get("minContains").and_then(Value::as_u64).unwrap_or(1);
            if found < min {
                self.fail(format!("must contain at least {min} matching item(s)"));
            }
            if let Some(max) = m.get("maxContains").and_then(Value::as_u64)
                && found > max
            {
                self.fail(format!("must contain at most {max} matching item(s)"));
            }
        }
    }

    fn object(&mut self, m: &Map<String, Value>, map: &Map<String, Value>, depth: usize) {
        let n = map.len() as u64;
        if let Some(min) = m.get("minProperties").and_then(Value::as_u64)
            && n < min
        {
            self.fail(format!("must have at least {min} properties"));
        }
        if let Some(max) = m.get("maxProperties").and_then(Value::as_u64)
            && n > max
        {
            self.fail(format!("must have at most {max} properties"));
        }
        if let Some(req) = m.get("required").and_then(Value::as_array) {
            for name in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    self.fail(format!("`{name}` is required"));
                }
            }
        }
        if let Some(deps) = m.get("dependentRequired").and_then(Value::as_object) {
            for (name, needs) in deps {
                if map.contains_key(name) {
                    for need in needs.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if !map.contains_key(need) {
                            self.fail(format!("`{need}` is required when `{name}` is present"));
                        }
                    }
                }
            }
        }
        if let Some(deps) = m.get("dependentSchemas").and_then(Value::as_object) {
            for (name, sub) in deps {
                if map.contains_key(name) {
                    self.check(sub, &Value::Object(map.clone()), depth + 1);
                }
            }
        }
        let props = m.get("properties").and_then(Value::as_object);
        let pattern_props = m.get("patternProperties").and_then(Value::as_object);
        let additional = m.get("additionalProperties");
        let names = m.get("propertyNames");
        for (key, value) in map {
            let mut covered = false;
            if let Some(sub) = props.and_then(|p| p.get(key)) {
                covered = true;
                self.at(key.clone(), |v| v.check(sub, value, depth + 1));
            }
            for (p, sub) in pattern_props.into_iter().flatten() {
                if self.schema.patterns.get(p).is_some_and(|re| re.is_match(key)) {
                    covered = true;
                    self.at(key.clone(), |v| v.check(sub, value, depth + 1));
                }
            }
            if !covered && let Some(sub) = additional {
                if sub == &Value::Bool(false) {
                    self.at(key.clone(), |v| {
                        v.fail(format!("`{key}` is not an allowed property"))
                    });
                } else {
                    self.at(key.clone(), |v| v.check(sub, value, depth + 1));
                }
            }
            if let Some(sub) = names
                && !self.passes(sub, &Value::String(key.clone()), depth + 1)
            {
                self.fail(format!("property name `{key}` is not allowed"));
            }
        }
    }
}

fn type_list(t: &Value) -> String {
    match t {
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        Value::String(t) => t.clone(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(schema: Value, data: Value) -> Vec<String> {
        Schema::compile(&schema)
            .unwrap_or_else(|e| panic!("{schema}: {}", e.message()))
            .validate(&data)
            .into_iter()
            .map(|e| format!("{} {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn keywords() {
        let s = json!({
            "type": "object",
            "required": ["title", "owner"],
            "additionalProperties": false,
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 5},
                "owner": {"type": "string", "pattern": "^u[0-9]+$"},
                "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true, "maxItems": 2},
                "price": {"type": "number", "multipleOf": 0.01},
                "kind": {"const": "post"},
                "address": {"$ref": "#/$defs/address"}
            },
            "$defs": {"address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}
        });
        assert!(
            errors(
                s.clone(),
                json!({"title": "hi", "owner": "u1", "age": 3, "price": 1.25})
            )
            .is_empty()
        );
        let got = errors(
            s,
            json!({"title": "too long", "age": 1.5, "tags": ["a", "a", "c"], "extra": 1, "price": 1.255, "kind": "x", "address": {"city": 3}}),
        );
        for want in [
            " `owner` is required",
            "/title must be at most 5 characters long",
            "/age expected integer, got number",
            "/tags items must be unique",
            "/tags must have at most 2 items",
            "/tags/2 not one of the allowed values",
            "/extra `extra` is not an allowed property",
            "/price must be a multiple of 0.01",
            "/kind must be \"post\"",
            "/address/city expected string, got number",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want:?} in {got:#?}");
        }
    }

    #[test]
    fn combinators() {
        let s = json!({"oneOf": [{"type": "string"}, {"type": "number", "minimum": 10}],
                       "not": {"const": "forbidden"},
                       "if": {"type": "string"}, "then": {"minLength": 2}});
        assert!(errors(s.clone(), json!("ok")).is_empty());
        assert!(errors(s.clone(), json!(12)).is_empty());
        assert_eq!(errors(s.clone(), json!(3)).len(), 1);
        assert_eq!(errors(s.clone(), json!("forbidden")).len(), 1);
        assert_eq!(errors(s, json!("x")).len(), 1);
    }

    #[test]
    fn recursive_ref_over_deep_data_is_bounded() {
        let s = json!({"type": "object", "properties": {"next": {"$ref": "#"}}});
        let mut data = json!({});
        for _ in 0..200 {
            data = json!({"next": data});
        }
        let got = errors(s, data);
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[test]
    fn bad_schemas_are_refused() {
        for s in [
            json!(3),
            json!({"type": "text"}),
            json!({"$ref": "https://example.com/s.json"}),
            json!({"$ref": "#/$defs/missing"}),
            json!({"pattern": "("}),
            json!({"minLength": -1}),
            json!({"unevaluatedProperties": false}),
            json!({"allOf": []}),
            json!({"$schema": "http://json-schema.org/draft-04/schema#"}),
            json!({"properties": {"a": {"type": 5}}}),
        ] {
            assert!(Schema::compile(&s).is_err(), "{s} was accepted");
        }
    }
}
