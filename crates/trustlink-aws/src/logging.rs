//! The functions' log subscriber: lambda_runtime's defaults (level from `AWS_LAMBDA_LOG_LEVEL`
//! or `RUST_LOG`, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`) with caps that hold whatever level
//! an operator picks. At TRACE the SDK logs whole HTTP bodies (trust policies carry external
//! IDs, CreateAccessKey returns a secret key) and lambda_runtime logs whole events (the
//! presigned ResponseURL, the properties): those crates never log below the caps.
//!
//! The caps are a second filter that every line must also pass (the operator's filter AND the
//! caps), not directives added to the operator's: in `EnvFilter` a `target=level` directive
//! *enables* that target up to its level, so caps written that way turned the SDK's DEBUG
//! lines on at the default INFO (about 19 lines per AWS call) and `RUST_LOG=warn` could not
//! turn them off. Here a dependency logs at min(what the operator asked for it, its cap).

use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::{Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The most verbose level each dependency may log at, by target prefix (a prefix covers
/// every crate and module whose target starts with it: `aws_smithy` is all the smithy
/// crates). DEBUG is the SDK's last level without bodies; the HTTP, TLS and runtime crates
/// stop at INFO (below it they print raw requests and whole events).
pub const CAPS: &[(&str, LevelFilter)] = &[
    ("aws_smithy", LevelFilter::DEBUG),
    ("aws_sdk", LevelFilter::DEBUG),
    ("aws_config", LevelFilter::DEBUG),
    ("aws_runtime", LevelFilter::DEBUG),
    ("aws_sigv4", LevelFilter::DEBUG),
    ("aws_credential_types", LevelFilter::DEBUG),
    ("aws_types", LevelFilter::DEBUG),
    ("hyper", LevelFilter::INFO),
    ("h2", LevelFilter::INFO),
    ("tower", LevelFilter::INFO),
    ("rustls", LevelFilter::INFO),
    ("lambda_runtime", LevelFilter::INFO),
];

/// The operator's filter: `level` (a level or a full `RUST_LOG` string), INFO when it holds
/// no valid directive.
pub fn operator(level: &str) -> EnvFilter {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(level)
}

/// The caps alone: everything else passes at any level (the operator's filter decides).
pub fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPS.iter().copied())
}

/// What a line must pass to be written: the operator's `level`, and the caps.
pub fn filter<S>(level: &str) -> impl Filter<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    operator(level).and(caps())
}

/// Installs the subscriber for a function, writing to stdout as Lambda expects.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout);
    let registry = tracing_subscriber::registry();
    if json {
        let layer = layer.json().with_current_span(false);
        registry.with(layer.with_filter(filter(&level))).init();
    } else {
        registry
            .with(layer.without_time().with_filter(filter(&level)))
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing::Level;

    /// Which of one line per level, from an SDK target and from the function's own, `level`
    /// lets through (the behaviour on real events; tests/logs.rs checks real binaries).
    fn written(level: &str) -> Vec<String> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .without_time()
            .with_filter(filter(level));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            macro_rules! each_level {
                ($target:literal) => {
                    tracing::trace!(target: $target, "TRACE");
                    tracing::debug!(target: $target, "DEBUG");
                    tracing::info!(target: $target, "INFO");
                    tracing::warn!(target: $target, "WARN");
                    tracing::error!(target: $target, "ERROR");
                };
            }
            each_level!("aws_smithy_runtime::client::orchestrator");
            each_level!("hyper_util::client");
            each_level!("rotator::driver");
        });
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn shown(lines: &[String], target: &str) -> Vec<Level> {
        [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .into_iter()
        .filter(|l| {
            lines
                .iter()
                .any(|line| line.contains(target) && line.contains(&format!(": {l}")))
        })
        .collect()
    }

    #[test]
    fn caps_only_ever_lower_a_level() {
        use Level as L;
        let sdk = "aws_smithy_runtime";
        let http = "hyper_util";
        let own = "rotator::driver";
        let info = written("info");
        assert_eq!(shown(&info, sdk), [L::INFO, L::WARN, L::ERROR], "{info:#?}");
        assert_eq!(shown(&info, http), [L::INFO, L::WARN, L::ERROR]);
        let warn = written("warn");
        assert_eq!(shown(&warn, sdk), [L::WARN, L::ERROR], "{warn:#?}");
        assert_eq!(shown(&warn, own), [L::WARN, L::ERROR]);
        let trace = written("trace,aws_smithy_runtime=trace,hyper_util=trace");
        assert_eq!(shown(&trace, sdk)[0], L::DEBUG, "{trace:#?}");
        assert_eq!(shown(&trace, http)[0], L::INFO);
        assert_eq!(shown(&trace, own)[0], L::TRACE);
    }
}
