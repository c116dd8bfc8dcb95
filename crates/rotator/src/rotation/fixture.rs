//! Test links on the in-memory cloud, made through the ports as trust-link leaves them (the
//! role and its trust policy, the grant, the user and key, both secrets with the record),
//! and a rotator over the fault injector, whose call log shows what a run asked of AWS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use trustlink_aws::ports::{AccessKeys, Policies, RoleDefinition, Roles, Secrets, Users};
use trustlink_aws::MemoryCloud;
use trustlink_domain::policy::{self, Principal};
use trustlink_domain::record::{self, AccessKeySecret, ExternalIdSecret, LinkRecord};
use trustlink_domain::{Conditions, ExternalId, RotationSettings};
use trustlink_tests::faults::{Faults, FaultyCloud};

use crate::{Limits, OffsetClock, Rotator};

const TRUSTING: &str = "111122223333";
const TRUSTED: &str = "444455556666";

pub(crate) struct Fixture {
    pub cloud: MemoryCloud,
    pub faults: Faults,
    clock: OffsetClock,
    pub rotator: Rotator<FaultyCloud<MemoryCloud>>,
    pub name: String,
    pub user: String,
}

impl Fixture {
    /// A keyed link `name` whose trust policy also has `conditions`.
    pub async fn link(name: &str, conditions: &Conditions) -> Self {
        let cloud = MemoryCloud::with_accounts(&[TRUSTING, TRUSTED]);
        let user = format!("{name}-user");
        let trusted = cloud.iam_of(TRUSTED);
        let principal = trusted
            .create_user("/", &user, &BTreeMap::new())
            .await
            .unwrap()
            .arn;
        let key = trusted.create_access_key(&user).await.unwrap();
        let id = ExternalId::generate();
        let trusted_principal = Principal::parse("p", &principal).unwrap();
        let trust = policy::trust_policy(&trusted_principal, &[id.expose()], conditions);
        let role_arn = role(&cloud, name, trust).await;
        let grant = trusted
            .create_policy(
                "/trustlink/",
                name,
                "grant",
                &policy::grant_policy(&role_arn, &[id.expose()]),
            )
            .await
            .unwrap();
        let rec = LinkRecord {
            link_name: name.into(),
            role_arn: role_arn.clone(),
            trusted_principal,
            grant_policy_arn: Some(grant),
            user_created: true,
            access_key: true,
            rotation: RotationSettings {
                external_id_days: 90,
                access_key_days: 90,
                grace_hours: 24,
            },
            external_id_rotated_at: None,
            access_key_rotated_at: None,
        };
        let id_text = ExternalIdSecret {
            external_id: id,
            role_arn,
            trusted_principal: principal,
            link_name: name.into(),
        }
        .to_text();
        let key_text = AccessKeySecret {
            access_key_id: key.id,
            secret_access_key: key.secret,
            user_name: user.clone(),
        }
        .to_text();
        let secrets = trustlink_aws::ports::Cloud::secrets(&cloud);
        for (secret, text) in [
            (record::external_id_secret_name(name), id_text),
            (record::access_key_secret_name(name), key_text),
        ] {
            secrets
                .create_secret(&secret, "link", &text, &rec.to_tags(), None, None)
                .await
                .unwrap();
        }
        let faults = Faults::new();
        let clock = OffsetClock::default();
        let limits = Limits {
            concurrency: 2,
            verify_attempts: 3,
            verify_delay: Duration::from_millis(10),
        };
        let faulty = FaultyCloud::new(cloud.clone(), faults.clone());
        Self {
            rotator: Rotator::new(faulty, Arc::new(clock.clone()), limits),
            cloud,
            faults,
            clock,
            name: name.into(),
            user,
        }
    }

    /// A run `hours` on, with `event` for this link; the report.
    pub async fn run(&self, hours: i64, mut event: Value) -> Value {
        self.clock.advance(hours * 3600);
        self.cloud.advance(hours * 3600);
        event["Links"] = json!([self.name]);
        self.faults.clear_calls();
        crate::handle(&self.rotator, &event).await.unwrap()
    }
}

pub(crate) fn action<'a>(report: &'a Value, kind: &str) -> &'a str {
    report["links"][0][kind]["action"]
        .as_str()
        .unwrap_or_default()
}

async fn role(cloud: &MemoryCloud, name: &str, trust: Value) -> String {
    let role = RoleDefinition {
        name: name.into(),
        path: "/trustlink/".into(),
        description: None,
        max_session_duration: None,
        trust_policy: trust,
        permissions_boundary: None,
        tags: BTreeMap::new(),
    };
    cloud.iam_of(TRUSTING).create_role(&role).await.unwrap().arn
}
