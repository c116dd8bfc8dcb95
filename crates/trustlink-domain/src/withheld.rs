//! Debug output for values that may carry secrets: a policy document names its external
//! IDs in its conditions, so any type holding one shows only its shape.

use std::fmt;

use serde_json::Value;

/// Shows a JSON document as its shape (`<document: 2 statements, 412 bytes>`), never its
/// content. Use it in the `Debug` of every type that holds a policy document.
pub struct Withheld<'a>(pub &'a Value);

impl fmt::Debug for Withheld<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statements = match self.0.get("Statement") {
            Some(Value::Array(a)) => a.len(),
            Some(_) => 1,
            None => 0,
        };
        let bytes = self.0.to_string().len();
        write!(f, "<document: {statements} statements, {bytes} bytes>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_the_shape_and_nothing_of_the_content() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Condition": {"StringEquals": {"sts:ExternalId": "s3cr3t-external-id"}}}]});
        let shown = format!("{:?}", Withheld(&doc));
        assert!(shown.starts_with("<document: 1 statements, "), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
