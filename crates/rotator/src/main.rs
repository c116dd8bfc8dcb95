//! `rotator`: reads its settings once, builds one SDK configuration, serves its schedule.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rotator::{Limits, Rotator, SystemClock};
use serde_json::Value;
use trustlink_aws::AccountAccess;
use trustlink_domain::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trustlink_aws::logging::init();
    let settings = Settings::from_env()?;
    let concurrency = std::env::var("TRUSTLINK_ROTATION_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let cloud = AccountAccess::new(
        trustlink_aws::load_sdk_config().await,
        &settings.admin_role_name,
    );
    let rotator = Rotator::new(
        cloud,
        Arc::new(SystemClock),
        Limits {
            concurrency,
            ..Limits::default()
        },
    );
    let rotator = &rotator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        rotator::handle(rotator, &event.payload).await
    }))
    .await
}
