//! Creating, updating and deleting a trust link: both ends, the external ID, the secrets.
//!
//! Create and Update converge the world onto the specification, so a duplicate delivery of a
//! request finds its own earlier work (tagged `trustlink:link`) and adopts it. Everything is
//! read and decided first ([`plan`]); then one module per step writes its part, logging in
//! the undo list ([`undo`]) what it created, so that a failure rolls exactly that back.

mod access_key;
mod checks;
mod delete;
mod grant;
mod link_secret;
mod permissions;
mod plan;
mod retire;
mod role;
mod trusted_user;
mod undo;
mod verify;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};
use trustlink_aws::ports::Cloud;
use trustlink_domain::clock::{Clock, SystemClock};
use trustlink_domain::{AccountId, ExternalId, LinkSpec, Settings};

use crate::error::{AtStep, LinkError};
use plan::Plan;
use undo::Undo;

pub use delete::{delete_role_fully, delete_user_fully};
pub use verify::VerifyBounds;

/// What Create and Update return: the `Fn::GetAtt` attributes.
#[derive(Debug, Clone)]
pub struct LinkOutput {
    pub role_arn: String,
    pub role_name: String,
    pub external_id_secret_arn: String,
    pub access_key_secret_arn: Option<String>,
    pub external_id: ExternalId,
    /// How the link was verified, for the log.
    pub verified_by: &'static str,
}

/// Create, or Update of the resource whose physical id (role ARN) is given.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    Create,
    Update { physical_id: &'a str },
}

pub struct LinkService<C> {
    cloud: C,
    settings: Settings,
    verify: VerifyBounds,
    /// The time the record's rotation stamps and the self-assume evaluation are taken at.
    clock: Arc<dyn Clock>,
}

/// A step's future boxed behind `dyn`: nested by value, the futures of all the steps make
/// a type too deep for the compiler's layout computation in callers.
pub(crate) fn erased<'a, T>(
    f: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    Box::pin(f)
}

/// Deliveries of one request race for each piece; each lost race costs one more attempt.
const RACE_ATTEMPTS: u32 = 6;

/// Growing pauses with jitter, so that racing deliveries fall out of step. The jitter is
/// the sub-second noise of the system time, a source of randomness, not the time of day.
fn race_pause(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 250)
        .unwrap_or_default();
    Duration::from_millis(200 * u64::from(attempt) + u64::from(jitter))
}

impl<C: Cloud> LinkService<C> {
    pub fn new(cloud: C, settings: Settings, verify: VerifyBounds) -> Self {
        Self {
            cloud,
            settings,
            verify,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same service reading the time from `clock` (tests move it; production keeps the
    /// system's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn cloud(&self) -> &C {
        &self.cloud
    }

    pub async fn create(&self, spec: &LinkSpec) -> Result<LinkOutput, LinkError> {
        erased(self.apply(spec, Mode::Create)).await
    }

    /// In place when the role keeps its ARN, else a replacement: a new role (a new physical
    /// id); the old one is left for CloudFormation's Delete.
    pub async fn update(
        &self,
        spec: &LinkSpec,
        physical_id: &str,
    ) -> Result<LinkOutput, LinkError> {
        erased(self.apply(spec, Mode::Update { physical_id })).await
    }

    /// The role ARN the specification resolves to, and the trusting account.
    pub async fn role_arn(&self, spec: &LinkSpec) -> Result<(AccountId, String), LinkError> {
        let trusting = match &spec.trusting_account {
            Some(a) => a.clone(),
            None => self
                .cloud
                .home_account()
                .await
                .at("sts:GetCallerIdentity")?,
        };
        let arn = spec.role_arn(&trusting);
        Ok((trusting, arn))
    }

    /// A duplicate delivery running at the same time may create a piece between our read and
    /// our write. Then nothing is rolled back (the other delivery may already use what we
    /// made, and we may use what it made): the attempt starts over, reads again and adopts
    /// what exists. Only a real failure rolls back, and only what this invocation created.
    async fn apply(&self, spec: &LinkSpec, mode: Mode<'_>) -> Result<LinkOutput, LinkError> {
        let mut undo = Vec::new();
        let mut attempt = 1;
        let result = loop {
            let failure = match erased(self.apply_once(spec, mode, &mut undo)).await {
                Err(e @ (LinkError::Race(_) | LinkError::KeysFull(_))) => e,
                other => break other,
            };
            if attempt == RACE_ATTEMPTS {
                break Err(persistent(failure, spec));
            }
            info!(link = %spec.link_name, contended = %failure, attempt, "a concurrent delivery is making the same link; converging");
            tokio::time::sleep(race_pause(attempt)).await;
            attempt += 1;
        };
        if let Err(e) = &result {
            if !undo.is_empty() {
                warn!(link = %spec.link_name, error = %e, undo_steps = undo.len(), "rolling back");
                erased(self.rollback(std::mem::take(&mut undo))).await;
            }
        }
        result
    }

    async fn apply_once(
        &self,
        spec: &LinkSpec,
        mode: Mode<'_>,
        undo: &mut Vec<Undo>,
    ) -> Result<LinkOutput, LinkError> {
        let plan = erased(Plan::read(self, spec, mode)).await?;
        let result = erased(self.build(&plan, undo)).await;
        if let Ok(out) = &result {
            info!(link = %spec.link_name, role_arn = %out.role_arn, verified_by = out.verified_by,
                  replaced = plan.replacing.is_some(), "link in place");
        }
        result
    }

    /// The steps, in the order each one needs the ones before it.
    async fn build(
        &self,
        plan: &Plan<'_, C>,
        undo: &mut Vec<Undo>,
    ) -> Result<LinkOutput, LinkError> {
        let user_created = erased(self.trusted_user(plan, undo)).await?;
        // Made by this request (not only owned by the link): nothing is attached to it yet.
        let user_made_now = undo.iter().any(|u| matches!(u, Undo::User { .. }));
        let role_created = erased(self.role(plan, undo)).await?;
        erased(self.permissions(plan, role_created)).await?;
        let grant_arn = erased(self.grant(plan, user_made_now, undo)).await?;
        let key = erased(self.access_key(plan, undo)).await?;
        let written = link_secret::Written {
            user_created,
            grant_arn: &grant_arn,
        };
        let external_id_secret_arn = erased(self.link_secret(plan, &written, undo)).await?;
        erased(self.retire_previous(plan, &grant_arn)).await?;
        let key_for_verify = key.as_ref().map(|(_, k)| k);
        let verified_by = erased(self.verify(plan, key_for_verify)).await?;
        Ok(LinkOutput {
            role_arn: plan.role_arn.clone(),
            role_name: plan.role_name.clone(),
            external_id_secret_arn,
            access_key_secret_arn: key.map(|(arn, _)| arn),
            external_id: plan.external_id.clone(),
            verified_by,
        })
    }
}

/// What a contention that outlasted every attempt is reported as.
fn persistent(failure: LinkError, spec: &LinkSpec) -> LinkError {
    match failure {
        LinkError::KeysFull(user) => LinkError::Conflict(format!(
            "TrustedSide.AccessKey: user {user} already has two access keys; delete one so trustlink can manage the link's key"
        )),
        LinkError::Race(what) => LinkError::Conflict(format!(
            "LinkName: {what} of link {} keeps being changed by another request",
            spec.link_name
        )),
        other => other,
    }
}
