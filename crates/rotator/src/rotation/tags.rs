//! The link secrets' tags the rotations read and write: the link's record, the switch
//! stamps, the key creation marker. Each write sets only its own tag, so nothing else on the
//! secret is overwritten.

use std::collections::BTreeMap;

use trustlink_aws::ports::{Cloud, SecretDescription, Secrets};
use trustlink_domain::record::{self, tag, LinkRecord};

use super::StepResult;
use crate::Rotator;

impl<C: Cloud> Rotator<C> {
    /// Records a switch time (`tag`) on the link's secret `secret`.
    pub(crate) async fn stamp(&self, secret: &str, key: &str) -> StepResult<()> {
        let tags = BTreeMap::from([(key.to_string(), self.clock.now().to_string())]);
        Ok(self.cloud.secrets().tag_secret(secret, &tags).await?)
    }

    /// The link's record as its secret's tags say now (a run's own stamps included), and
    /// the secret's description it was read from (its versions' labels).
    pub(crate) async fn fresh_description(
        &self,
        rec: &LinkRecord,
    ) -> StepResult<(LinkRecord, SecretDescription)> {
        let name = record::external_id_secret_name(&rec.link_name);
        let described = self.cloud.secrets().describe_secret(&name).await?;
        let fresh = LinkRecord::from_tags(&described.tags).unwrap_or_else(|| rec.clone());
        Ok((fresh, described))
    }

    /// The link's record as its secret's tags say now (a run's own stamps included).
    pub(crate) async fn fresh_record(&self, rec: &LinkRecord) -> StepResult<LinkRecord> {
        Ok(self.fresh_description(rec).await?.0)
    }

    /// Marks (or, with `None`, clears) a key creation in progress on the key secret `name`.
    pub(crate) async fn set_creating(&self, name: &str, marker: Option<String>) -> StepResult<()> {
        let tags = BTreeMap::from([(
            tag::KEYS_BEFORE_CREATE.to_string(),
            marker.unwrap_or_default(),
        )]);
        Ok(self.cloud.secrets().tag_secret(name, &tags).await?)
    }
}
