//! Containing a handler: its panics, its overruns, and what a panic would print.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;

use crate::request::Request;
use crate::resource::ResourceError;

/// Why a handler gave no result of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandlerFailure {
    Panicked,
    /// Still running when its budget ran out.
    TimedOut(Duration),
}

/// Runs `work` to completion, catching a panic and stopping it after `budget` (if any).
///
/// The handler runs inside this future, so a panic is caught here and, on timeout,
/// dropping the future cancels the handler: it can never answer a second time.
pub(crate) async fn contain<F: Future>(
    work: F,
    budget: Option<Duration>,
) -> Result<F::Output, HandlerFailure> {
    let guarded = AssertUnwindSafe(work).catch_unwind();
    match budget {
        Some(budget) => match tokio::time::timeout(budget, guarded).await {
            Ok(finished) => finished.map_err(|_| HandlerFailure::Panicked),
            Err(_) => Err(HandlerFailure::TimedOut(budget)),
        },
        None => guarded.await.map_err(|_| HandlerFailure::Panicked),
    }
}

impl HandlerFailure {
    /// Logs the failure and turns it into the error answered for `request`.
    pub(crate) fn into_error(self, request: &Request) -> ResourceError {
        let request_type = request.request_type().as_str();
        let logical_resource_id = request.logical_resource_id();
        match self {
            HandlerFailure::Panicked => {
                // The payload is not used: panic messages can quote secrets. With
                // `install_panic_hook` the location is logged.
                tracing::error!(
                    request_type,
                    logical_resource_id,
                    "the resource handler panicked"
                );
                ResourceError::new(
                    "internal error: the resource handler panicked (see the function's logs)",
                )
            }
            HandlerFailure::TimedOut(budget) => {
                tracing::error!(
                    request_type,
                    logical_resource_id,
                    budget_ms = budget.as_millis() as u64,
                    "the resource handler was still running near the Lambda deadline; abandoned"
                );
                ResourceError::new(format!(
                    "timed out before the Lambda deadline: the resource handler did not finish within {} ms",
                    budget.as_millis()
                ))
            }
        }
    }
}

/// Replaces the panic hook with one that logs only where a panic happened, not its message.
///
/// The default hook prints the message, and messages of `unwrap`/`expect` often quote the
/// value involved, such as a secret being parsed. [`run`](crate::run) installs it; call it
/// yourself when driving [`handle`](crate::handle) from your own `main`.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "unknown".to_owned());
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let has_subscriber =
            tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>());
        if has_subscriber {
            tracing::error!(location = %location, thread, "panic (message withheld)");
        } else {
            eprintln!("panic at {location} in thread {thread} (message withheld)");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_pass_through() {
        assert_eq!(contain(async { 7 }, None).await, Ok(7));
        assert_eq!(
            contain(async { 7 }, Some(Duration::from_secs(5))).await,
            Ok(7)
        );
    }

    #[tokio::test]
    async fn panics_are_caught() {
        let work = async { panic!("boom") };
        let caught: Result<(), _> = contain(work, None).await;
        assert_eq!(caught, Err(HandlerFailure::Panicked));
    }

    #[tokio::test(start_paused = true)]
    async fn overruns_are_cut_off_at_the_budget() {
        let budget = Duration::from_millis(50);
        let work = tokio::time::sleep(Duration::from_secs(3600));
        assert_eq!(
            contain(work, Some(budget)).await,
            Err(HandlerFailure::TimedOut(budget))
        );
    }
}
