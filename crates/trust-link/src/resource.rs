//! `Custom::TrustLink` on the custom-resource protocol: properties in, attributes out.

use cfn_custom_resource::{CustomResource, Outcome, Request, ResourceError};
use tracing::info;
use trustlink_aws::ports::Cloud;
use trustlink_domain::LinkSpec;

use crate::link::{erased, LinkOutput, LinkService};

pub struct TrustLinkResource<C> {
    service: LinkService<C>,
}

impl<C: Cloud> TrustLinkResource<C> {
    pub fn new(service: LinkService<C>) -> Self {
        Self { service }
    }
}

fn spec_of(req: &Request) -> Result<LinkSpec, ResourceError> {
    LinkSpec::from_properties(req.resource_properties())
        .map_err(|e| ResourceError::new(format!("invalid properties: {e}")))
}

/// The physical id is the role ARN; the external ID is returned only because NoEcho is set.
fn outcome(out: LinkOutput) -> Outcome {
    let mut o = Outcome::new(out.role_arn.clone())
        .with_data("RoleArn", out.role_arn)
        .with_data("RoleName", out.role_name)
        .with_data("ExternalIdSecretArn", out.external_id_secret_arn)
        .with_data("ExternalId", out.external_id.expose())
        .with_no_echo(true);
    if let Some(arn) = out.access_key_secret_arn {
        o = o.with_data("AccessKeySecretArn", arn);
    }
    o
}

fn failure(e: crate::LinkError) -> ResourceError {
    ResourceError::new(e.to_string())
}

impl<C: Cloud> CustomResource for TrustLinkResource<C> {
    async fn create(&self, req: &Request) -> Result<Outcome, ResourceError> {
        let spec = spec_of(req)?;
        info!(link = %spec.link_name, request_id = req.request_id(), "create");
        // A failure has been rolled back: the protocol's failed-create id tells the later
        // Delete that there is nothing to remove.
        erased(self.service.create(&spec))
            .await
            .map(outcome)
            .map_err(failure)
    }

    async fn update(&self, req: &Request) -> Result<Outcome, ResourceError> {
        let spec = spec_of(req)?;
        let physical_id = req.physical_resource_id().unwrap_or_default();
        info!(link = %spec.link_name, request_id = req.request_id(), physical_id, "update");
        erased(self.service.update(&spec, physical_id))
            .await
            .map(outcome)
            .map_err(failure)
    }

    async fn delete(&self, req: &Request) -> Result<Outcome, ResourceError> {
        let physical_id = req.physical_resource_id().unwrap_or_default().to_string();
        // Delete must work even when the properties are no longer valid: only the name is needed.
        let link_name = req
            .resource_properties()
            .get("LinkName")
            .and_then(|v| v.as_str());
        info!(link = ?link_name, request_id = req.request_id(), physical_id = %physical_id, "delete");
        erased(self.service.delete(&physical_id, link_name))
            .await
            .map_err(failure)?;
        Ok(Outcome::new(physical_id))
    }
}
