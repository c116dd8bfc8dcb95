//! The functions' log subscriber: lambda_runtime's defaults (level from `AWS_LAMBDA_LOG_LEVEL`
//! or `RUST_LOG`, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`) with caps that hold whatever level
//! an operator picks. At TRACE the SDK logs whole HTTP bodies (trust policies carry external
//! IDs, CreateAccessKey returns a secret key) and lambda_runtime logs whole events (the
//! presigned ResponseURL, the properties): those crates never log below the caps.

use tracing_subscriber::filter::{EnvFilter, LevelFilter};

/// `target=level` directives applied after the operator's own.
pub const CAPS: &[&str] = &[
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http=debug",
    "aws_smithy_http_client=debug",
    "aws_smithy_types=debug",
    "aws_sdk_iam=debug",
    "aws_sdk_sts=debug",
    "aws_sdk_secretsmanager=debug",
    "aws_config=debug",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "rustls=info",
    "lambda_runtime=info",
    "lambda_runtime_api_client=info",
];

/// `level` (a level or a full `RUST_LOG` string), then the caps.
pub fn filter(level: &str) -> EnvFilter {
    let mut filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(level);
    for cap in CAPS {
        filter = filter.add_directive(cap.parse().expect("caps are valid directives"));
    }
    filter
}

/// Installs the subscriber for a function, writing to stdout as Lambda expects.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&level))
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.without_time().init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn caps_hold_even_at_trace() {
        let filter = filter("trace,aws_smithy_runtime=trace");
        let shown = filter.to_string();
        assert!(shown.contains("aws_smithy_runtime=debug"), "{shown}");
        assert!(!shown.contains("aws_smithy_runtime=trace"), "{shown}");
        assert!(shown.contains("lambda_runtime=info"), "{shown}");
        let _ = Level::TRACE;
    }
}
