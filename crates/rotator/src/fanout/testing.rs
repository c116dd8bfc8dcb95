//! Links and SQS events on the in-memory cloud, for the fan-out's unit tests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use trustlink_aws::ports::{Cloud, RoleDefinition, Roles, Secrets, AWSCURRENT};
use trustlink_aws::MemoryCloud;
use trustlink_domain::policy::{self, Principal};
use trustlink_domain::record::{self, ExternalIdSecret, LinkRecord};
use trustlink_domain::{Conditions, ExternalId, RotationSettings};

use crate::{Limits, OffsetClock, Rotator};

pub const TRUSTING: &str = "111122223333";

/// A link without a key, as trust-link leaves it: the role trusting its external ID, the
/// secret with the record. Rotated every day.
pub async fn partner_link(cloud: &MemoryCloud, name: &str) {
    let id = ExternalId::generate();
    let principal = Principal::parse("p", "arn:aws:iam::444455556666:root").unwrap();
    let role = RoleDefinition {
        name: name.into(),
        path: "/trustlink/".into(),
        description: None,
        max_session_duration: None,
        trust_policy: policy::trust_policy(&principal, &[id.expose()], &Conditions::default()),
        permissions_boundary: None,
        tags: BTreeMap::new(),
    };
    let role_arn = cloud.iam_of(TRUSTING).create_role(&role).await.unwrap().arn;
    let rec = LinkRecord {
        link_name: name.into(),
        role_arn: role_arn.clone(),
        trusted_principal: principal,
        grant_policy_arn: None,
        user_created: false,
        access_key: false,
        rotation: RotationSettings {
            external_id_days: 1,
            access_key_days: 0,
            grace_hours: 1,
        },
        external_id_rotated_at: None,
        access_key_rotated_at: None,
    };
    let text = ExternalIdSecret {
        external_id: id,
        role_arn,
        trusted_principal: "arn:aws:iam::444455556666:root".into(),
        link_name: name.into(),
    }
    .to_text();
    let secret = record::external_id_secret_name(name);
    cloud
        .secrets()
        .create_secret(&secret, "link", &text, &rec.to_tags(), None, None)
        .await
        .unwrap();
}

pub fn rotator(cloud: &MemoryCloud, clock: &OffsetClock) -> Rotator<MemoryCloud> {
    let limits = Limits {
        concurrency: 4,
        verify_attempts: 2,
        verify_delay: Duration::from_millis(1),
    };
    Rotator::new(cloud.clone(), Arc::new(clock.clone()), limits)
}

pub fn sqs_event(bodies: &[&str]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"messageId": format!("m{i}"), "receiptHandle": format!("r{i}"), "body": body,
                   "attributes": {"MessageGroupId": TRUSTING}, "messageAttributes": {},
                   "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:trustlink-rotation.fifo"})
        })
        .collect();
    json!({ "Records": records })
}

pub fn failures(response: &Value) -> Vec<&str> {
    response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect()
}

pub async fn current_version(cloud: &MemoryCloud, name: &str) -> String {
    let secret = record::external_id_secret_name(name);
    let v = cloud.secrets().get_secret_value(&secret, AWSCURRENT).await;
    v.unwrap().version_id
}
