//! The Lambda entry point for a function that is nothing but one custom resource.

use lambda_runtime::LambdaEvent;
use serde_json::Value;

use crate::config::Config;
use crate::dispatch::handle_with_config;
use crate::guard::install_panic_hook;
use crate::resource::CustomResource;
use crate::sender::HttpSender;

/// Runs `resource` as the Lambda function: installs the panic hook, builds an
/// [`HttpSender`] and serves every invocation with [`handle_with_config`].
///
/// Set up a `tracing` subscriber before calling this.
pub async fn run<R>(resource: R, config: Config) -> Result<(), lambda_runtime::Error>
where
    R: CustomResource,
{
    install_panic_hook();
    let sender = HttpSender::new()?;
    let (resource, sender, config) = (&resource, &sender, &config);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Value>| async move {
            handle_with_config(resource, event, sender, config).await
        },
    ))
    .await
}
