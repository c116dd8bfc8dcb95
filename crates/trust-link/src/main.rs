//! `trust-link`: reads its settings once, builds one SDK configuration, serves CloudFormation.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use cfn_custom_resource::{handle_with_config, Config, HttpSender};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use trust_link::{LinkService, TrustLinkResource, VerifyBounds};
use trustlink_aws::AccountAccess;
use trustlink_domain::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trustlink_aws::logging::init();
    let settings = Settings::from_env()?;
    let cloud = AccountAccess::new(
        trustlink_aws::load_sdk_config().await,
        &settings.admin_role_name,
    );
    let resource = TrustLinkResource::new(LinkService::new(
        cloud.clone(),
        settings,
        VerifyBounds::default(),
    ));
    // cfn_custom_resource::run's loop, with the hub account taken from each invocation's
    // function ARN first: no sts:GetCallerIdentity per cold start.
    cfn_custom_resource::install_panic_hook();
    let sender = HttpSender::new()?;
    let config = Config::default();
    let (resource, sender, config, cloud) = (&resource, &sender, &config, &cloud);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        cloud.learn_home_account(&event.context.invoked_function_arn);
        handle_with_config(resource, event, sender, config).await
    }))
    .await
}
