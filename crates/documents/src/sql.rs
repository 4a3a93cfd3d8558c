//! Filters compiled to SQL for SQLite (data as JSON text) and PostgreSQL
//! (data as jsonb). Values are always bound parameters; paths, validated to
//! letters, digits, `_` and `-`, are written as literals so expression
//! indexes can match; nothing else from the query reaches the SQL text. The semantics are the in-memory
//! evaluator's, checked by a differential test against both databases.
//!
//! The table has `id TEXT`, `created_at` and `updated_at` (milliseconds)
//! and `data`.

use crate::filter::{Field, Filter, Op, Operand, Scalar};
use crate::order::{key_exprs, path_literal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Text(String),
    Float(f64),
    Int(i64),
    /// An integer 0/1 on SQLite, a boolean on PostgreSQL.
    Bool(bool),
}

/// A bound value as the store binds it.
pub(crate) fn param(b: &Bound) -> basalt_store::Param<'_> {
    use basalt_store::Param;
    match b {
        Bound::Text(s) => Param::Text(s),
        Bound::Float(x) => Param::Float(*x),
        Bound::Int(i) => Param::Int(*i),
        Bound::Bool(b) => Param::Bool(*b),
    }
}

/// A `WHERE` expression and its parameters, numbered from `first + 1`.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub sql: String,
    pub params: Vec<Bound>,
}

pub fn compile(filter: &Filter, dialect: Dialect, first: usize) -> Compiled {
    let mut g = Gen {
        dialect,
        first,
        params: Vec::new(),
    };
    let sql = g.filter(filter);
    Compiled {
        sql,
        params: g.params,
    }
}

struct Gen {
    dialect: Dialect,
    first: usize,
    params: Vec<Bound>,
}

/// How one JSON value is reached in SQL: its type name, its scalar value,
/// and (PostgreSQL) the jsonb itself.
struct Access {
    typ: String,
    value: String,
    json: String,
}

impl Gen {
    fn bind(&mut self, b: Bound) -> String {
        self.params.push(b);
        format!("${}", self.first + self.params.len())
    }

    fn filter(&mut self, f: &Filter) -> String {
        match f {
            Filter::And(all) if all.is_empty() => "1=1".into(),
            Filter::Or(any) if any.is_empty() => "1=0".into(),
            Filter::And(all) => format!(
                "({})",
                all.iter()
                    .map(|f| self.filter(f))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            ),
            Filter::Or(any) => format!(
                "({})",
                any.iter()
                    .map(|f| self.filter(f))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
            Filter::Condition { field, op, operand } => self.condition(field, *op, operand),
        }
    }

    fn condition(&mut self, field: &Field, op: Op, operand: &Operand) -> String {
        match field {
            Field::CreatedAt | Field::UpdatedAt => {
                let col = if *field == Field::CreatedAt {
                    "created_at"
                } else {
                    "updated_at"
                };
                self.time(col, op, operand)
            }
            Field::Id => {
                let access = Access {
                    typ: String::new(),
                    value: "id".into(),
                    json: String::new(),
                };
                self.scalar_column(&access, op, operand)
            }
            Field::Data(path) => {
                let access = self.path(path);
                let keys = key_exprs(field, self.dialect);
                self.data(&access, &keys, op, operand)
            }
        }
    }

    fn time(&mut self, col: &str, op: Op, operand: &Operand) -> String {
        match (op, operand) {
            (Op::Exists, Operand::Exists(e)) => {
                if *e {
                    "1=1".into()
                } else {
                    "1=0".into()
                }
            }
            (Op::In | Op::NotIn, Operand::Times(ts)) => {
                let list: Vec<String> = ts.iter().map(|t| self.bind(Bound::Int(*t))).collect();
                let not = if op == Op::NotIn { "NOT " } else { "" };
                format!("({col} {not}IN ({}))", list.join(", "))
            }
            (_, Operand::Time(t)) => {
                let p = self.bind(Bound::Int(*t));
                format!("({col} {} {p})", sql_op(op))
            }
            _ => "1=0".into(),
        }
    }

    /// `id`: a text column that is always present.
    fn scalar_column(&mut self, a: &Access, op: Op, operand: &Operand) -> String {
        let c = self.collate();
        match (op, operand) {
            (Op::Exists, Operand::Exists(e)) => {
                if *e {
                    "1=1".into()
                } else {
                    "1=0".into()
                }
            }
            (Op::In, Operand::Many(xs)) | (Op::NotIn, Operand::Many(xs)) => {
                let strings: Vec<String> = xs
                    .iter()
                    .filter_map(|s| match s {
                        Scalar::String(s) => Some(self.bind(Bound::Text(s.clone()))),
                        _ => None,
                    })
                    .collect();
                match (op, strings.is_empty()) {
                    (_, true) => "1=0".into(),
                    (Op::In, false) => format!("({} IN ({}))", a.value, strings.join(", ")),
                    _ => format!("({} NOT IN ({}))", a.value, strings.join(", ")),
                }
            }
            (Op::Prefix, Operand::One(Scalar::String(s))) => self.prefix(&a.value, s),
            (Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge, Operand::One(Scalar::String(s))) => {
                let p = self.bind(Bound::Text(s.clone()));
                format!("({}{c} {} {p}{c})", a.value, sql_op(op))
            }
            _ => "1=0".into(),
        }
    }

    fn collate(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "",
            // Byte order, as the in-memory evaluator compares.
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }

    fn prefix(&mut self, value: &str, prefix: &str) -> String {
        let p = self.bind(Bound::Text(prefix.to_owned()));
        match self.dialect {
            Dialect::Sqlite => format!("(substr({value}, 1, length({p})) = {p})"),
            Dialect::Postgres => format!("starts_with({value}, {p})"),
        }
    }

    fn path(&mut self, path: &[String]) -> Access {
        let p = path_literal(path, self.dialect);
        match self.dialect {
            Dialect::Sqlite => Access {
                typ: format!("json_type(data, {p})"),
                value: format!("json_extract(data, {p})"),
                json: String::new(),
            },
            Dialect::Postgres => {
                let args = p;
                Access {
                    typ: format!("jsonb_typeof(jsonb_extract_path(data, {args}))"),
                    value: format!("jsonb_extract_path_text(data, {args})"),
                    json: format!("jsonb_extract_path(data, {args})"),
                }
            }
        }
    }

    fn type_names(&self, s: &Scalar) -> &'static [&'static str] {
        match (self.dialect, s) {
            (Dialect::Sqlite, Scalar::Number(_)) => &["integer", "real"],
            (Dialect::Sqlite, Scalar::String(_)) => &["text"],
            (Dialect::Sqlite, Scalar::Bool(_)) => &["true", "false"],
            (Dialect::Sqlite, Scalar::Null) => &["null"],
            (Dialect::Postgres, Scalar::Number(_)) => &["number"],
            (Dialect::Postgres, Scalar::String(_)) => &["string"],
            (Dialect::Postgres, Scalar::Bool(_)) => &["boolean"],
            (Dialect::Postgres, Scalar::Null) => &["null"],
        }
    }

    fn type_is(&self, a: &Access, names: &[&str]) -> String {
        let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        format!("{} IN ({})", a.typ, list.join(", "))
    }

    /// A typed comparison of one JSON value with a scalar.
    fn typed(&mut self, a: &Access, op: Op, s: &Scalar) -> String {
        let ty = self.type_is(a, self.type_names(s));
        match s {
            Scalar::Number(n) => {
                let p = self.bind(Bound::Float(*n));
                let v = match self.dialect {
                    Dialect::Sqlite => a.value.clone(),
                    Dialect::Postgres => format!("({})::float8", a.value),
                };
                format!("({ty} AND {v} {} {p})", sql_op(op))
            }
            Scalar::String(text) => {
                let p = self.bind(Bound::Text(text.clone()));
                let c = self.collate();
                format!("({ty} AND {}{c} {} {p}{c})", a.value, sql_op(op))
            }
            Scalar::Bool(b) => {
                let wanted = if op == Op::Ne { !*b } else { *b };
                match (op, self.dialect) {
                    (Op::Eq | Op::Ne, Dialect::Sqlite) => format!("({} = '{wanted}')", a.typ),
                    (Op::Eq | Op::Ne, Dialect::Postgres) => format!("({} = '{wanted}'::jsonb)", a.json),
                    _ => "1=0".into(),
                }
            }
            Scalar::Null => match op {
                Op::Eq => format!("({ty})"),
                _ => "1=0".into(),
            },
        }
    }

    /// A typed comparison through the field's sort keys (see
    /// [`key_exprs`]): `rank = R AND key op $n`, which an index on the keys serves.
    fn keyed(&mut self, keys: &[String; 4], op: Op, s: &Scalar) -> String {
        // Every key but the compared one is pinned to its constant (see
        // `key_exprs`), so an index on the four keys can seek on them and,
        // for an equality, order by the index's next columns.
        let [rank, number, string, boolean] = keys;
        let (zero, empty, no) = match self.dialect {
            Dialect::Sqlite => ("0", "''", "0"),
            Dialect::Postgres => ("0", "''", "false"),
        };
        let eq = op == Op::Eq;
        match s {
            Scalar::Number(n) => {
                let p = self.bind(Bound::Float(*n));
                let rest = if eq {
                    format!(" AND {string} = {empty} AND {boolean} = {no}")
                } else {
                    String::new()
                };
                format!("({rank} = 3 AND {number} {} {p}{rest})", sql_op(op))
            }
            Scalar::String(text) => {
                let p = self.bind(Bound::Text(text.clone()));
                let rest = if eq {
                    format!(" AND {boolean} = {no}")
                } else {
                    String::new()
                };
                format!(
                    "({rank} = 4 AND {number} = {zero} AND {string} {} {p}{rest})",
                    sql_op(op)
                )
            }
            Scalar::Bool(b) => match op {
                Op::Eq | Op::Ne => {
                    let p = self.bind(Bound::Bool(*b));
                    format!(
                        "({rank} = 2 AND {number} = {zero} AND {string} = {empty} AND {boolean} {} {p})",
                        sql_op(op)
                    )
                }
                _ => "1=0".into(),
            },
            Scalar::Null => match op {
                Op::Eq => {
                    format!("({rank} = 1 AND {number} = {zero} AND {string} = {empty} AND {boolean} = {no})")
                }
                _ => "1=0".into(),
            },
        }
    }

    fn data(&mut self, a: &Access, keys: &[String; 4], op: Op, operand: &Operand) -> String {
        match (op, operand) {
            (Op::Exists, Operand::Exists(true)) => format!("({} IS NOT NULL)", a.typ),
            (Op::Exists, Operand::Exists(false)) => format!("({} IS NULL)", a.typ),
            (Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge, Operand::One(s)) => self.keyed(keys, op, s),
            (Op::In, Operand::Many(xs)) => {
                let any: Vec<String> = xs.iter().map(|s| self.keyed(keys, Op::Eq, s)).collect();
                format!("({})", any.join(" OR "))
            }
            (Op::NotIn, Operand::Many(xs)) => {
                let mut names: Vec<&str> = Vec::new();
                for s in xs {
                    for n in self.type_names(s) {
                        if !names.contains(n) {
                            names.push(n);
                        }
                    }
                }
                let ty = self.type_is(a, &names);
                let any: Vec<String> = xs.iter().map(|s| self.keyed(keys, Op::Eq, s)).collect();
                format!("({ty} AND NOT ({}))", any.join(" OR "))
            }
            (Op::Prefix, Operand::One(Scalar::String(p))) => {
                let ty = self.type_is(a, self.type_names(&Scalar::String(String::new())));
                let starts = self.prefix(&a.value, p);
                format!("({ty} AND {starts})")
            }
            (Op::ArrayContains, Operand::One(s)) => self.array_any(a, std::slice::from_ref(s)),
            (Op::ArrayContainsAny, Operand::Many(xs)) => self.array_any(a, xs),
            _ => "1=0".into(),
        }
    }

    /// The value is an array with an element equal (typed) to one of `xs`.
    fn array_any(&mut self, a: &Access, xs: &[Scalar]) -> String {
        let (is_array, source, element) = match self.dialect {
            Dialect::Sqlite => (
                format!("{} = 'array'", a.typ),
                a.value.replace("json_extract(data, ", "json_each(data, "),
                Access {
                    typ: "e.type".into(),
                    value: "e.value".into(),
                    json: String::new(),
                },
            ),
            Dialect::Postgres => (
                format!("{} = 'array'", a.typ),
                format!(
                    "jsonb_array_elements(CASE WHEN {} = 'array' THEN {} END) AS e(v)",
                    a.typ, a.json
                ),
                Access {
                    typ: "jsonb_typeof(e.v)".into(),
                    value: "(e.v #>> '{}')".into(),
                    json: "e.v".into(),
                },
            ),
        };
        let any: Vec<String> = xs.iter().map(|s| self.typed(&element, Op::Eq, s)).collect();
        let source = match self.dialect {
            Dialect::Sqlite => format!("{source} AS e"),
            Dialect::Postgres => source,
        };
        format!(
            "({is_array} AND EXISTS (SELECT 1 FROM {source} WHERE {}))",
            any.join(" OR ")
        )
    }
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        _ => ">=",
    }
}
