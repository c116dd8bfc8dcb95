//! `rotator`: reads its settings once, builds one SDK configuration, serves its schedule.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use rotator::{Limits, Rotator, SystemClock};
use serde_json::Value;
use trustlink_aws::{AccountAccess, SqsQueue};
use trustlink_domain::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trustlink_aws::logging::init();
    // A panic's message can quote anything: logged is only where it happened.
    cfn_custom_resource::install_panic_hook();
    let settings = Settings::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "invalid settings; the function does not start");
    })?;
    let config = trustlink_aws::load_sdk_config().await;
    // With a queue the schedule only plans, and the queue's events do the rotating.
    let queue = settings
        .rotation_queue_url
        .as_deref()
        .map(|url| SqsQueue::new(&config, url));
    let cloud = AccountAccess::new(config, &settings.admin_role_name);
    let rotator = Rotator::new(
        cloud.clone(),
        Arc::new(SystemClock),
        Limits {
            concurrency: settings.rotation_concurrency,
            ..Limits::default()
        },
    );
    let (rotator, queue, cloud) = (&rotator, queue.as_ref(), &cloud);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The hub account from the invocation's function ARN, as trust-link takes it: no
        // sts:GetCallerIdentity per cold start. A context without one leaves STS to ask.
        cloud.learn_home_account(&event.context.invoked_function_arn);
        // Who asked, for a suspension's record: the caller's Cognito identity, the only
        // caller identity Lambda's context carries.
        let caller = event
            .context
            .identity
            .as_ref()
            .map(|i| i.identity_id.clone());
        let run = rotator::fanout::handle(rotator, queue, &event.payload, caller.as_deref());
        rotator::guard::contain(run).await
    }))
    .await
}
