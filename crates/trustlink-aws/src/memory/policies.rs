//! Managed policies in memory: customer managed policies and their versions (IAM keeps at
//! most five), the AWS managed policies every account has, and attaching them.

use serde_json::{json, Value};

use super::{check_document, check_name, check_path, delete_conflict, error, not_found};
use super::{Account, Env, MemoryCloud, MemoryIam};
use crate::ports::{AwsResult as Result, Policies};
use crate::ErrorKind;

/// AWS managed policies the tests and templates name (`arn:aws:iam::aws:policy/<name>`).
pub const AWS_MANAGED: &[&str] = &[
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "SecurityAudit",
    "IAMReadOnlyAccess",
    "job-function/ViewOnlyAccess",
];

/// IAM's limits: versions per managed policy, managed policies per role or user.
const MAX_VERSIONS: usize = 5;
const MAX_ATTACHED: usize = 10;

#[derive(Debug, Clone)]
pub(super) struct Policy {
    pub(super) arn: String,
    pub(super) name: String,
    pub(super) path: String,
    /// Oldest first; exactly one is the default.
    versions: Vec<Version>,
    /// Version ids are never reused: `v1`, `v2`, …
    next_version: u32,
}

#[derive(Debug, Clone)]
struct Version {
    document: Value,
    default: bool,
}

impl Policy {
    fn default_document(&self) -> &Value {
        &self
            .versions
            .iter()
            .find(|v| v.default)
            .expect("a policy always has a default version")
            .document
    }

    /// CreatePolicyVersion: refused at five versions, as IAM does.
    fn create_version(&mut self, document: &Value, set_default: bool) -> Result<String> {
        if self.versions.len() >= MAX_VERSIONS {
            return Err(error(
                "iam:CreatePolicyVersion",
                ErrorKind::LimitExceeded,
                "A managed policy can have up to 5 versions. Before you create a new version, \
                 you must delete an existing version.",
            ));
        }
        let id = format!("v{}", self.next_version);
        self.next_version += 1;
        if set_default {
            self.versions.iter_mut().for_each(|v| v.default = false);
        }
        self.versions.push(Version {
            document: document.clone(),
            default: set_default,
        });
        Ok(id)
    }

    fn drop_non_default_versions(&mut self) {
        self.versions.retain(|v| v.default);
    }
}

fn aws_managed(arn: &str) -> Option<&'static str> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?;
    AWS_MANAGED.iter().copied().find(|n| *n == name)
}

/// What an AWS managed policy allows, near enough for a reader of its document.
fn aws_managed_document(name: &str) -> Value {
    let action = match name {
        "AdministratorAccess" => json!("*"),
        "PowerUserAccess" => json!("*"),
        _ => json!(["iam:Get*", "iam:List*", "s3:Get*", "s3:List*"]),
    };
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

/// Whether `arn` names an AWS managed policy or a customer managed one of `account`.
pub(super) fn exists(account: &Account, arn: &str) -> bool {
    aws_managed(arn).is_some() || account.policies.values().any(|p| p.arn == arn)
}

/// How many roles and users of `account` have `arn` attached.
pub(super) fn attachments(account: &Account, arn: &str) -> u32 {
    let roles = account.roles.values().map(|r| &r.attached);
    let users = account.users.values().map(|u| &u.attached);
    roles
        .chain(users)
        .filter(|a| a.iter().any(|p| p == arn))
        .count() as u32
}

/// Attaches `arn` (once) to a role's or user's list, within IAM's quota of ten.
pub(super) fn attach(
    operation: &'static str,
    attached: &mut Vec<String>,
    arn: &str,
    exists: bool,
    quota: &str,
) -> Result<()> {
    if !exists {
        return Err(not_found(
            operation,
            format!("Policy {arn} does not exist or is not attachable."),
        ));
    }
    if attached.iter().any(|a| a == arn) {
        return Ok(());
    }
    if attached.len() >= MAX_ATTACHED {
        return Err(error(
            operation,
            ErrorKind::LimitExceeded,
            format!("Cannot exceed quota for {quota}: {MAX_ATTACHED}"),
        ));
    }
    attached.push(arn.to_string());
    Ok(())
}

pub(super) fn detach(operation: &'static str, attached: &mut Vec<String>, arn: &str) -> Result<()> {
    let before = attached.len();
    attached.retain(|a| a != arn);
    if attached.len() == before {
        return Err(not_found(operation, format!("Policy {arn} was not found.")));
    }
    Ok(())
}

fn policy_mut<'a>(
    account: &'a mut Account,
    operation: &'static str,
    arn: &str,
) -> Result<&'a mut Policy> {
    account
        .policies
        .values_mut()
        .find(|p| p.arn == arn)
        .ok_or_else(|| {
            not_found(
                operation,
                format!("Policy {arn} does not exist or is not attachable."),
            )
        })
}

/// AWS does not let an account change the policies it manages.
fn refuse_aws_managed(operation: &'static str, arn: &str) -> Result<()> {
    match aws_managed(arn) {
        Some(_) => Err(error(
            operation,
            ErrorKind::AccessDenied,
            format!("Policy {arn} is managed by AWS and cannot be changed."),
        )),
        None => Ok(()),
    }
}

fn create(account: &mut Account, path: &str, name: &str, document: &Value) -> Result<String> {
    const OP: &str = "iam:CreatePolicy";
    let key = name.to_ascii_lowercase();
    if account.policies.contains_key(&key) {
        return Err(error(
            OP,
            ErrorKind::AlreadyExists,
            format!("A policy called {name} already exists. Duplicate names are not allowed."),
        ));
    }
    let arn = format!("arn:aws:iam::{}:policy{path}{name}", account.id);
    let mut policy = Policy {
        arn: arn.clone(),
        name: name.to_string(),
        path: path.to_string(),
        versions: Vec::new(),
        next_version: 1,
    };
    policy.create_version(document, true)?;
    account.policies.insert(key, policy);
    Ok(arn)
}

impl Policies for MemoryIam {
    async fn create_policy(
        &self,
        path: &str,
        name: &str,
        _description: &str,
        document: &Value,
    ) -> Result<String> {
        const OP: &str = "iam:CreatePolicy";
        check_name(OP, name, 128)?;
        check_path(OP, path)?;
        check_document(OP, document)?;
        self.with(|a, _| create(a, path, name, document))
    }

    async fn policy_exists(&self, arn: &str) -> Result<bool> {
        self.with(|a, _| Ok(exists(a, arn)))
    }

    async fn get_policy_document(&self, arn: &str) -> Result<Value> {
        if let Some(name) = aws_managed(arn) {
            return Ok(aws_managed_document(name));
        }
        self.with(|a, _| {
            Ok(policy_mut(a, "iam:GetPolicy", arn)?
                .default_document()
                .clone())
        })
    }

    /// As the adapter does it: non-default versions go first, so a policy at IAM's five
    /// still takes a new document, and only the new default is left.
    async fn set_policy_document(&self, arn: &str, document: &Value) -> Result<()> {
        const OP: &str = "iam:CreatePolicyVersion";
        refuse_aws_managed(OP, arn)?;
        check_document(OP, document)?;
        self.with(|a, _| {
            let policy = policy_mut(a, "iam:ListPolicyVersions", arn)?;
            policy.drop_non_default_versions();
            policy.create_version(document, true)?;
            policy.drop_non_default_versions();
            Ok(())
        })
    }

    /// IAM refuses to delete a policy still attached to a role or user.
    async fn delete_policy(&self, arn: &str) -> Result<()> {
        const OP: &str = "iam:DeletePolicy";
        refuse_aws_managed(OP, arn)?;
        self.with(|a, _| {
            policy_mut(a, "iam:ListPolicyVersions", arn)?;
            if attachments(a, arn) > 0 {
                return Err(delete_conflict(
                    OP,
                    "Cannot delete a policy attached to entities.",
                ));
            }
            a.policies.retain(|_, p| p.arn != arn);
            Ok(())
        })
    }
}

impl MemoryCloud {
    /// CreatePolicyVersion done outside trustlink (by hand, by another tool): IAM's limit of
    /// five versions applies. Returns the version id.
    pub fn add_policy_version(
        &self,
        account: &str,
        arn: &str,
        document: &Value,
        set_default: bool,
    ) -> Result<String> {
        self.iam_of(account).with(|a, _: &mut Env| {
            policy_mut(a, "iam:CreatePolicyVersion", arn)?.create_version(document, set_default)
        })
    }

    /// How many versions a customer managed policy has.
    pub fn policy_versions(&self, account: &str, arn: &str) -> Result<usize> {
        self.iam_of(account)
            .with(|a, _| Ok(policy_mut(a, "iam:ListPolicyVersions", arn)?.versions.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::MEMBER;
    use crate::ports::{Roles, Users};

    fn doc(n: u32) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": format!("s{n}"), "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    }

    fn cloud() -> (MemoryCloud, MemoryIam) {
        let cloud = MemoryCloud::with_accounts(&[MEMBER]);
        let iam = cloud.iam_of(MEMBER);
        (cloud, iam)
    }

    #[tokio::test]
    async fn aws_managed_policies_exist_in_every_account() {
        let (_, iam) = cloud();
        for name in ["ReadOnlyAccess", "SecurityAudit", "AdministratorAccess"] {
            let arn = format!("arn:aws:iam::aws:policy/{name}");
            assert!(iam.policy_exists(&arn).await.unwrap(), "{name}");
            assert!(iam.get_policy_document(&arn).await.unwrap().is_object());
        }
        assert!(!iam
            .policy_exists("arn:aws:iam::aws:policy/NoSuchPolicy")
            .await
            .unwrap());
        let e = iam
            .set_policy_document("arn:aws:iam::aws:policy/ReadOnlyAccess", &doc(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
    }

    #[tokio::test]
    async fn a_customer_policy_is_created_once_and_read_back() {
        let (_, iam) = cloud();
        let arn = iam
            .create_policy("/trustlink/", "Grant", "d", &doc(1))
            .await
            .unwrap();
        assert_eq!(arn, "arn:aws:iam::111122223333:policy/trustlink/Grant");
        assert!(iam.policy_exists(&arn).await.unwrap());
        assert_eq!(iam.get_policy_document(&arn).await.unwrap(), doc(1));
        let e = iam
            .create_policy("/other/", "grant", "d", &doc(1))
            .await
            .unwrap_err();
        assert!(e.is_already_exists(), "{e}");
        let e = iam
            .get_policy_document("arn:aws:iam::111122223333:policy/Nope")
            .await;
        assert!(e.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn a_new_document_leaves_one_version() {
        let (cloud, iam) = cloud();
        let arn = iam.create_policy("/", "Grant", "", &doc(1)).await.unwrap();
        for n in 2..10 {
            iam.set_policy_document(&arn, &doc(n)).await.unwrap();
        }
        assert_eq!(iam.get_policy_document(&arn).await.unwrap(), doc(9));
        assert_eq!(cloud.policy_versions(MEMBER, &arn).unwrap(), 1);
    }

    #[tokio::test]
    async fn five_versions_is_the_limit_and_a_new_document_still_fits() {
        let (cloud, iam) = cloud();
        let arn = iam.create_policy("/", "Grant", "", &doc(1)).await.unwrap();
        for n in 2..=5 {
            cloud
                .add_policy_version(MEMBER, &arn, &doc(n), false)
                .unwrap();
        }
        let e = cloud
            .add_policy_version(MEMBER, &arn, &doc(6), false)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert_eq!(e.operation, "iam:CreatePolicyVersion");
        assert_eq!(
            iam.get_policy_document(&arn).await.unwrap(),
            doc(1),
            "v1 is still default"
        );
        iam.set_policy_document(&arn, &doc(7)).await.unwrap();
        assert_eq!(iam.get_policy_document(&arn).await.unwrap(), doc(7));
        assert_eq!(cloud.policy_versions(MEMBER, &arn).unwrap(), 1);
    }

    #[tokio::test]
    async fn an_attached_policy_cannot_be_deleted() {
        let (_, iam) = cloud();
        let arn = iam.create_policy("/", "Grant", "", &doc(1)).await.unwrap();
        iam.create_user("/", "u", &Default::default())
            .await
            .unwrap();
        iam.attach_user_policy("u", &arn).await.unwrap();
        let e = iam.delete_policy(&arn).await.unwrap_err();
        assert!(e.message.starts_with("DeleteConflict"), "{e}");
        iam.detach_user_policy("u", &arn).await.unwrap();
        iam.delete_policy(&arn).await.unwrap();
        assert!(!iam.policy_exists(&arn).await.unwrap());
        assert!(iam.delete_policy(&arn).await.unwrap_err().is_not_found());
        assert!(iam.get_role("x").await.is_err());
    }
}
