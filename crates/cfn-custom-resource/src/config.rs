//! The settings of [`handle_with_config`](crate::handle_with_config).

use std::time::Duration;

/// Settings for [`handle_with_config`](crate::handle_with_config).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Time reserved before the Lambda deadline for answering. The handler is given what is
    /// left; when the deadline is close, handler and answer get half each.
    pub deadline_margin: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            deadline_margin: Duration::from_secs(10),
        }
    }
}

impl Config {
    pub fn with_deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }
}
