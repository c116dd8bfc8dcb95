//! `link-check`: reads its settings once, builds one SDK configuration, serves its commands.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use link_check::{CheckSettings, Checker, OffsetClock};
use serde_json::Value;
use trustlink_aws::AccountAccess;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trustlink_aws::logging::init();
    let settings = CheckSettings::from_env()?;
    let cloud = AccountAccess::new(
        trustlink_aws::load_sdk_config().await,
        &settings.read_role_name,
    );
    let clock = Arc::new(OffsetClock::new(settings.clock_offset_seconds));
    let checker = Checker::new(cloud, settings, clock);
    let checker = &checker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        link_check::handle(checker, &event.payload).await
    }))
    .await
}
