//! Rendering an error together with everything that caused it.

use std::error::Error;

/// `err` and its whole `source()` chain, joined by `": "`.
///
/// Libraries often put the useful part (a DNS failure, an expired token) only in a source,
/// and `Display` of the outer error hides it; a Reason or a log line needs all of them.
pub(crate) fn error_chain(err: &dyn Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn joins_every_source_in_order() {
        let err = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(error_chain(&err), "outer: middle: inner");
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }
}
