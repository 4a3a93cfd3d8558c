//! `PATCH` of a document: a JSON Merge Patch of `data`, then the field
//! transforms `increment`, `server_time`, `array_union` and `array_remove`,
//! each addressing dotted paths (intermediate objects are created).

use basalt_core::{Error, Timestamp};
use serde_json::{Map, Number, Value};

use crate::filter::Field;

/// The transforms of one `PATCH`, checked.
#[derive(Clone, Debug, Default)]
pub struct Patch {
    pub merge: Option<Map<String, Value>>,
    pub increment: Vec<(Vec<String>, Number)>,
    pub server_time: Vec<Vec<String>>,
    pub array_union: Vec<(Vec<String>, Vec<Value>)>,
    pub array_remove: Vec<(Vec<String>, Vec<Value>)>,
}

fn data_path(path: &str) -> Result<Vec<String>, Error> {
    match Field::parse(path)? {
        Field::Data(p) => Ok(p),
        _ => Err(Error::invalid_argument(format!(
            "`{path}` is metadata: only data fields can be changed"
        ))),
    }
}

impl Patch {
    /// From the body's `data`, `increment`, `server_time`, `array_union` and `array_remove`.
    pub fn parse(body: &Map<String, Value>) -> Result<Patch, Error> {
        let mut patch = Patch::default();
        let mut touched: Vec<Vec<String>> = Vec::new();
        let mut claim = |p: &Vec<String>| -> Result<(), Error> {
            if touched.iter().any(|t| t.starts_with(p) || p.starts_with(t)) {
                return Err(Error::invalid_argument(format!(
                    "`{}` is changed twice in one patch",
                    p.join(".")
                )));
            }
            touched.push(p.clone());
            Ok(())
        };
        for (key, value) in body {
            match key.as_str() {
                "data" => {
                    let map = value
                        .as_object()
                        .ok_or_else(|| Error::invalid_argument("`data` is an object (a JSON Merge Patch)"))?;
                    patch.merge = Some(map.clone());
                }
                "increment" => {
                    for (path, by) in value
                        .as_object()
                        .ok_or_else(|| Error::invalid_argument("`increment` maps paths to numbers"))?
                    {
                        let p = data_path(path)?;
                        claim(&p)?;
                        let n = by.as_number().ok_or_else(|| {
                            Error::invalid_argument(format!("`increment.{path}` is not a number"))
                        })?;
                        patch.increment.push((p, n.clone()));
                    }
                }
                "server_time" => {
                    for path in value
                        .as_array()
                        .ok_or_else(|| Error::invalid_argument("`server_time` is a list of paths"))?
                    {
                        let path = path
                            .as_str()
                            .ok_or_else(|| Error::invalid_argument("`server_time` lists paths as strings"))?;
                        let p = data_path(path)?;
                        claim(&p)?;
                        patch.server_time.push(p);
                    }
                }
                "array_union" | "array_remove" => {
                    let map = value
                        .as_object()
                        .ok_or_else(|| Error::invalid_argument(format!("`{key}` maps paths to lists")))?;
                    for (path, items) in map {
                        let p = data_path(path)?;
                        claim(&p)?;
                        let items = items
                            .as_array()
                            .ok_or_else(|| Error::invalid_argument(format!("`{key}.{path}` is a list")))?;
                        let entry = (p, items.clone());
                        if key == "array_union" {
                            patch.array_union.push(entry)
                        } else {
                            patch.array_remove.push(entry)
                        }
                    }
                }
                other => {
                    return Err(Error::invalid_argument(format!(
                        "unknown field `{other}` in a patch"
                    )));
                }
            }
        }
        Ok(patch)
    }

    /// Applies the patch to `data`; `now` is the server time written.
    pub fn apply(&self, data: &mut Map<String, Value>, now: Timestamp) -> Result<(), Error> {
        if let Some(merge) = &self.merge {
            basalt_core::json::merge_patch(data, merge);
        }
        for (path, by) in &self.increment {
            let slot = slot(data, path)?;
            let current = match slot {
                Value::Null => None,
                Value::Number(n) => Some(n.clone()),
                _ => {
                    return Err(Error::invalid_argument(format!(
                        "`{}` is not a number: it cannot be incremented",
                        path.join(".")
                    )));
                }
            };
            *slot = Value::Number(add(current.as_ref(), by)?);
        }
        for path in &self.server_time {
            *slot(data, path)? = Value::String(now.to_string());
        }
        for (path, items) in &self.array_union {
            let slot = slot(data, path)?;
            let list = as_list(slot, path)?;
            for item in items {
                if !list.contains(item) {
                    list.push(item.clone());
                }
            }
        }
        for (path, items) in &self.array_remove {
            let slot = slot(data, path)?;
            let list = as_list(slot, path)?;
            list.retain(|v| !items.contains(v));
        }
        Ok(())
    }
}

/// The value at `path`, created as `null` (with objects on the way) when missing.
fn slot<'a>(data: &'a mut Map<String, Value>, path: &[String]) -> Result<&'a mut Value, Error> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| Error::invalid_argument("an empty path"))?;
    let mut map = data;
    for seg in parents {
        let next = map
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        map = next.as_object_mut().ok_or_else(|| {
            Error::invalid_argument(format!(
                "`{seg}` on the way to `{}` is not an object",
                path.join(".")
            ))
        })?;
    }
    Ok(map.entry(last.clone()).or_insert(Value::Null))
}

fn as_list<'a>(slot: &'a mut Value, path: &[String]) -> Result<&'a mut Vec<Value>, Error> {
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut()
        .ok_or_else(|| Error::invalid_argument(format!("`{}` is not a list", path.join("."))))
}

/// Integers stay integers while they fit; anything else is a float.
fn add(current: Option<&Number>, by: &Number) -> Result<Number, Error> {
    let Some(current) = current else {
        return Ok(by.clone());
    };
    if let (Some(a), Some(b)) = (current.as_i64(), by.as_i64())
        && let Some(sum) = a.checked_add(b)
    {
        return Ok(Number::from(sum));
    }
    let sum = current.as_f64().unwrap_or(0.0) + by.as_f64().unwrap_or(0.0);
    Number::from_f64(sum).ok_or_else(|| Error::invalid_argument("the increment overflows"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(data: Value, body: Value) -> Result<Value, Error> {
        let patch = Patch::parse(body.as_object().unwrap())?;
        let mut d = data.as_object().unwrap().clone();
        patch.apply(&mut d, Timestamp::from_millis(1_767_323_045_678))?;
        Ok(Value::Object(d))
    }

    #[test]
    fn every_transform() {
        let d =
            json!({"title": "hi", "likes": 1, "stats": {"views": 10}, "tags": ["a", "b"], "meta": {"x": 1}});
        let out = apply(
            d,
            json!({
                "data": {"title": "hello", "meta": null, "new": {"k": true}},
                "increment": {"likes": 2, "stats.views": 0.5, "stats.fresh": 3},
                "server_time": ["seen.at"],
                "array_union": {"tags": ["b", "c", "c"]},
                "array_remove": {"old": ["x"]}
            }),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "title": "hello", "likes": 3, "stats": {"views": 10.5, "fresh": 3}, "tags": ["a", "b", "c"],
                "new": {"k": true}, "seen": {"at": "2026-01-02T03:04:05.678Z"}, "old": []
            })
        );
        let out = apply(
            json!({"tags": ["a", 1, "a", {"x": 1}]}),
            json!({"array_remove": {"tags": ["a", {"x": 1}]}}),
        )
        .unwrap();
        assert_eq!(out, json!({"tags": [1]}));
        let big = apply(json!({"n": i64::MAX}), json!({"increment": {"n": 1}})).unwrap();
        assert!(big["n"].is_f64(), "past i64 the sum becomes a float");
    }

    #[test]
    fn bad_patches_are_refused() {
        for (data, body) in [
            (json!({"title": "x"}), json!({"increment": {"title": 1}})),
            (json!({"a": 5}), json!({"increment": {"a.b": 1}})),
            (json!({"tags": "x"}), json!({"array_union": {"tags": ["a"]}})),
            (json!({}), json!({"increment": {"a": "1"}})),
            (json!({}), json!({"increment": {"a": 1}, "server_time": ["a"]})),
            (
                json!({}),
                json!({"increment": {"a": 1}, "array_union": {"a.b": [1]}}),
            ),
            (json!({}), json!({"increment": {"id": 1}})),
            (json!({}), json!({"server_time": ["created_at"]})),
            (json!({}), json!({"data": [1]})),
            (json!({}), json!({"server_time": "a"})),
            (json!({}), json!({"surprise": 1})),
            (json!({}), json!({"increment": {"a..b": 1}})),
        ] {
            assert!(apply(data.clone(), body.clone()).is_err(), "{data} {body}");
        }
    }
}
