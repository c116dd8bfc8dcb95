//! `trust-link`: reads its settings once, builds one SDK configuration, serves CloudFormation.

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
    let resource =
        TrustLinkResource::new(LinkService::new(cloud, settings, VerifyBounds::default()));
    cfn_custom_resource::run(resource, cfn_custom_resource::Config::default()).await
}
