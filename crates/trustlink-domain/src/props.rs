//! Reading CloudFormation properties: every scalar may arrive as a string, every object
//! may carry a property we do not know (which we refuse, naming it).

use serde_json::{Map, Value};

use crate::error::{excerpt, ValidationError, ValidationErrors};

/// An object of properties at `path` (e.g. `Role`), with the keys read so far.
pub(crate) struct Props<'a> {
    path: String,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Props<'a> {
    pub fn new(path: &str, value: &'a Value) -> Result<Self, ValidationError> {
        match value.as_object() {
            Some(map) => Ok(Self {
                path: path.to_string(),
                map,
                known: Vec::new(),
            }),
            None => Err(ValidationError::new(
                display_path(path),
                "must be an object",
            )),
        }
    }

    /// The path of `key`, which may be a caller's (an unknown property): cut like any value.
    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            excerpt(key)
        } else {
            format!("{}.{}", self.path, excerpt(key))
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, key: &'static str) -> Result<Option<String>, ValidationError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ValidationError::new(self.field(key), "must be a string")),
        }
    }

    pub fn required_string(&mut self, key: &'static str) -> Result<String, ValidationError> {
        self.string(key)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ValidationError::new(self.field(key), "is required"))
    }

    /// A whole number, given as a JSON number or as the string CloudFormation sends.
    pub fn number(&mut self, key: &'static str) -> Result<Option<u64>, ValidationError> {
        let field = self.field(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| ValidationError::new(field, "must be a whole number of at least 0")),
            Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| {
                ValidationError::new(
                    field,
                    format!(
                        "must be a whole number of at least 0 (got '{}')",
                        excerpt(s)
                    ),
                )
            }),
            Some(_) => Err(ValidationError::new(field, "must be a whole number")),
        }
    }

    /// `true`/`false`, as a JSON boolean or as the string CloudFormation sends.
    pub fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, ValidationError> {
        let field = self.field(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(ValidationError::new(
                field,
                format!("must be true or false (got {})", short(other)),
            )),
        }
    }

    pub fn string_list(&mut self, key: &'static str) -> Result<Vec<String>, ValidationError> {
        let field = self.field(key);
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ValidationError::new(
                        format!("{field}[{i}]"),
                        "must be a string",
                    )),
                })
                .collect(),
            // A single string is accepted as a list of one, as IAM does.
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(_) => Err(ValidationError::new(field, "must be a list of strings")),
        }
    }

    pub fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Refuses every key that no getter asked for.
    pub fn finish(self, errors: &mut ValidationErrors) {
        for key in self.map.keys() {
            if !self.known.contains(&key.as_str()) {
                let mut expected = self.known.clone();
                expected.sort_unstable();
                expected.dedup();
                errors.push(ValidationError::new(
                    self.field(key),
                    format!("unknown property (expected one of {})", expected.join(", ")),
                ));
            }
        }
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "ResourceProperties".to_string()
    } else {
        path.to_string()
    }
}

/// A JSON value as an error shows it, cut on a character boundary (issue 9: a byte index
/// into a long non-ASCII value panicked).
fn short(v: &Value) -> String {
    excerpt(&v.to_string())
}
