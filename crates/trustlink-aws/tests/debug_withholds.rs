//! Roles carry their trust policy, and a trust policy names the link's external IDs: the
//! `Debug` of the port types that hold one shows its shape, never its content, so no log
//! line at any level (`?role`, a panic message, an error) can carry an external ID.

use serde_json::json;
use trustlink_aws::ports::{RoleDefinition, RoleInfo};

const SECRET: &str = "ExternalIdThatMustNotLeak42";

fn trust() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:user/u"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": SECRET}}}]})
}

#[test]
fn a_role_definition_withholds_its_trust_policy() {
    let def = RoleDefinition {
        name: "R".into(),
        path: "/trustlink/".into(),
        description: None,
        max_session_duration: None,
        trust_policy: trust(),
        permissions_boundary: None,
        tags: Default::default(),
    };
    let shown = format!("{def:?} {def:#?}");
    assert!(
        shown.contains("R") && shown.contains("1 statements"),
        "{shown}"
    );
    assert!(!shown.contains(SECRET), "{shown}");
}

#[test]
fn a_role_withholds_its_trust_policy() {
    let role = RoleInfo {
        arn: "arn:aws:iam::111122223333:role/trustlink/R".into(),
        name: "R".into(),
        path: "/trustlink/".into(),
        description: None,
        max_session_duration: Some(3600),
        trust_policy: trust(),
        permissions_boundary: None,
        tags: Default::default(),
    };
    let shown = format!("{role:?} {role:#?}");
    assert!(shown.contains("role/trustlink/R"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}
