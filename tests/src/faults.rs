//! Fault injection for crash-safety tests.
//!
//! [`FaultyCloud`] wraps any [`Cloud`] and routes every call of every port (IAM's roles,
//! policies, users and access keys; Secrets Manager; STS) through one check. A test arms
//! one fault with [`Faults::arm`]: the `nth` call of an operation from then on fails.
//!
//! - [`When::Before`]: the call is not made; the operation fails as if AWS refused it.
//! - [`When::After`]: the call is made, its effect happens, and then the operation fails.
//!   That is what a process killed right after a write leaves behind: the write is done but
//!   the caller never learned of it. A crash-safe handler re-run afterwards must converge.
//!
//! To cover every step boundary: run once clean, read the ordered log with
//! [`Faults::calls`], then re-run from scratch with a fault at each entry (both `Before`
//! and `After`), and check that a re-run without faults ends in the same state.
//!
//! Operations are [`Op`]s, one per port method, so a misspelt operation does not compile.
//! `Cloud`'s own methods (`home_account`, `iam`, `secrets`, `sts_as`) are not faultable:
//! they only wrap.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use trustlink_aws::ports::{
    AccessKeyInfo, AccessKeys, AwsResult, CallerIdentity, Cloud, Credentials, KeyStatus,
    NewAccessKey, Policies, RoleDefinition, RoleInfo, Roles, SecretDescription, SecretSummary,
    SecretValue, Secrets, Sts, UserInfo, Users,
};
use trustlink_aws::ports::{Inventory, Op, PolicySummary, RoleSummary, RoleUsage};
use trustlink_aws::AwsError;
use trustlink_domain::{AccountId, SecretText};

/// The message of an injected error, to tell it from a real one.
pub const INJECTED: &str = "injected fault";

/// Where a fault strikes relative to the real call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The call is not made and an error is returned.
    Before,
    /// The real call is made (its effect happens), then an error is returned, as if the
    /// process died right after the write.
    After,
}

#[derive(Debug)]
struct Armed {
    op: Op,
    /// Calls of `op` still to let through before the one that fails.
    skip: u32,
    when: When,
}

#[derive(Debug, Default)]
struct State {
    armed: Option<Armed>,
    fired: bool,
    calls: Vec<Op>,
}

/// The shared switchboard: clones share the armed fault and the call log.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<State>>);

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms one fault: the `nth` (1-based) call of `op` from now on fails. Replaces any
    /// fault already armed and resets [`fired`](Self::fired). Panics on `nth == 0`.
    pub fn arm(&self, op: Op, nth: u32, when: When) {
        assert!(nth >= 1, "nth is 1-based");
        let mut s = self.lock();
        s.armed = Some(Armed {
            op,
            skip: nth - 1,
            when,
        });
        s.fired = false;
    }

    /// Removes the armed fault, if any has not fired yet.
    pub fn disarm(&self) {
        self.lock().armed = None;
    }

    /// Whether the armed fault has fired.
    pub fn fired(&self) -> bool {
        self.lock().fired
    }

    /// The ordered log of operations called since creation or [`clear_calls`](Self::clear_calls),
    /// through every wrapper sharing these faults (including calls a fault stopped).
    pub fn calls(&self) -> Vec<Op> {
        self.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves nothing half-updated here.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs a call of `op`; says whether (and where) it fails. A fault fires once.
    fn check(&self, op: Op) -> Option<When> {
        let mut s = self.lock();
        s.calls.push(op);
        let armed = s.armed.as_mut().filter(|a| a.op == op)?;
        if armed.skip > 0 {
            armed.skip -= 1;
            return None;
        }
        let when = armed.when;
        s.armed = None;
        s.fired = true;
        Some(when)
    }
}

/// Named after the port method (`create_role`), not an AWS operation: no AWS call failed.
fn injected(op: Op) -> AwsError {
    AwsError::other(op.as_str(), INJECTED)
}

/// Runs `call` unless a fault strikes `op` before it; fails after it if one strikes then.
/// `call` is a closure so that a `Before` fault cannot start any work.
async fn guard<T, F>(faults: &Faults, op: Op, call: impl FnOnce() -> F) -> AwsResult<T>
where
    F: Future<Output = AwsResult<T>>,
{
    match faults.check(op) {
        None => call().await,
        Some(When::Before) => Err(injected(op)),
        Some(When::After) => {
            let _ = call().await;
            Err(injected(op))
        }
    }
}

/// A [`Cloud`] whose ports fail where [`Faults`] says.
#[derive(Debug, Clone)]
pub struct FaultyCloud<C> {
    pub inner: C,
    pub faults: Faults,
}

impl<C> FaultyCloud<C> {
    pub fn new(inner: C, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

impl<C: Cloud> Cloud for FaultyCloud<C> {
    type Iam = FaultyIam<C::Iam>;
    type Sts = FaultySts<C::Sts>;
    type Secrets = FaultySecrets<C::Secrets>;

    async fn home_account(&self) -> AwsResult<AccountId> {
        self.inner.home_account().await
    }
    async fn iam(&self, account: &AccountId) -> AwsResult<Self::Iam> {
        let inner = self.inner.iam(account).await?;
        Ok(FaultyIam::new(inner, self.faults.clone()))
    }
    fn secrets(&self) -> Self::Secrets {
        FaultySecrets::new(self.inner.secrets(), self.faults.clone())
    }
    fn sts_as(&self, credentials: &Credentials) -> Self::Sts {
        FaultySts::new(self.inner.sts_as(credentials), self.faults.clone())
    }
}

/// IAM of one account, faultable: roles, policies, users, access keys.
#[derive(Debug, Clone)]
pub struct FaultyIam<I> {
    inner: I,
    faults: Faults,
}

impl<I> FaultyIam<I> {
    pub fn new(inner: I, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

/// Secrets Manager, faultable.
#[derive(Debug, Clone)]
pub struct FaultySecrets<S> {
    inner: S,
    faults: Faults,
}

impl<S> FaultySecrets<S> {
    pub fn new(inner: S, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

/// STS, faultable.
#[derive(Debug, Clone)]
pub struct FaultySts<S> {
    inner: S,
    faults: Faults,
}

impl<S> FaultySts<S> {
    pub fn new(inner: S, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

type Tags = BTreeMap<String, String>;

impl<I: Roles> Roles for FaultyIam<I> {
    async fn create_role(&self, role: &RoleDefinition) -> AwsResult<RoleInfo> {
        guard(&self.faults, Op::CreateRole, || {
            self.inner.create_role(role)
        })
        .await
    }
    async fn get_role(&self, name: &str) -> AwsResult<RoleInfo> {
        guard(&self.faults, Op::GetRole, || self.inner.get_role(name)).await
    }
    async fn update_trust_policy(&self, name: &str, policy: &Value) -> AwsResult<()> {
        guard(&self.faults, Op::UpdateTrustPolicy, || {
            self.inner.update_trust_policy(name, policy)
        })
        .await
    }
    async fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max: Option<u32>,
    ) -> AwsResult<()> {
        guard(&self.faults, Op::UpdateRole, || {
            self.inner.update_role(name, description, max)
        })
        .await
    }
    async fn set_permissions_boundary(&self, name: &str, boundary: Option<&str>) -> AwsResult<()> {
        guard(&self.faults, Op::SetPermissionsBoundary, || {
            self.inner.set_permissions_boundary(name, boundary)
        })
        .await
    }
    async fn tag_role(&self, name: &str, tags: &Tags) -> AwsResult<()> {
        guard(&self.faults, Op::TagRole, || {
            self.inner.tag_role(name, tags)
        })
        .await
    }
    async fn untag_role(&self, name: &str, keys: &[String]) -> AwsResult<()> {
        guard(&self.faults, Op::UntagRole, || {
            self.inner.untag_role(name, keys)
        })
        .await
    }
    async fn delete_role(&self, name: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DeleteRole, || {
            self.inner.delete_role(name)
        })
        .await
    }
    async fn attach_role_policy(&self, name: &str, arn: &str) -> AwsResult<()> {
        guard(&self.faults, Op::AttachRolePolicy, || {
            self.inner.attach_role_policy(name, arn)
        })
        .await
    }
    async fn detach_role_policy(&self, name: &str, arn: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DetachRolePolicy, || {
            self.inner.detach_role_policy(name, arn)
        })
        .await
    }
    async fn list_attached_role_policies(&self, name: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListAttachedRolePolicies, || {
            self.inner.list_attached_role_policies(name)
        })
        .await
    }
    async fn put_role_policy(
        &self,
        name: &str,
        policy_name: &str,
        document: &Value,
    ) -> AwsResult<()> {
        guard(&self.faults, Op::PutRolePolicy, || {
            self.inner.put_role_policy(name, policy_name, document)
        })
        .await
    }
    async fn get_role_policy(&self, name: &str, policy_name: &str) -> AwsResult<Value> {
        guard(&self.faults, Op::GetRolePolicy, || {
            self.inner.get_role_policy(name, policy_name)
        })
        .await
    }
    async fn delete_role_policy(&self, name: &str, policy_name: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DeleteRolePolicy, || {
            self.inner.delete_role_policy(name, policy_name)
        })
        .await
    }
    async fn list_role_policies(&self, name: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListRolePolicies, || {
            self.inner.list_role_policies(name)
        })
        .await
    }
}

impl<I: Policies> Policies for FaultyIam<I> {
    async fn create_policy(
        &self,
        path: &str,
        name: &str,
        description: &str,
        document: &Value,
    ) -> AwsResult<String> {
        guard(&self.faults, Op::CreatePolicy, || {
            self.inner.create_policy(path, name, description, document)
        })
        .await
    }
    async fn policy_exists(&self, arn: &str) -> AwsResult<bool> {
        guard(&self.faults, Op::PolicyExists, || {
            self.inner.policy_exists(arn)
        })
        .await
    }
    async fn get_policy_document(&self, arn: &str) -> AwsResult<Value> {
        guard(&self.faults, Op::GetPolicyDocument, || {
            self.inner.get_policy_document(arn)
        })
        .await
    }
    async fn set_policy_document(&self, arn: &str, document: &Value) -> AwsResult<()> {
        guard(&self.faults, Op::SetPolicyDocument, || {
            self.inner.set_policy_document(arn, document)
        })
        .await
    }
    async fn delete_policy(&self, arn: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DeletePolicy, || {
            self.inner.delete_policy(arn)
        })
        .await
    }
}

impl<I: Users> Users for FaultyIam<I> {
    async fn create_user(&self, path: &str, name: &str, tags: &Tags) -> AwsResult<UserInfo> {
        guard(&self.faults, Op::CreateUser, || {
            self.inner.create_user(path, name, tags)
        })
        .await
    }
    async fn get_user(&self, name: &str) -> AwsResult<UserInfo> {
        guard(&self.faults, Op::GetUser, || self.inner.get_user(name)).await
    }
    async fn delete_user(&self, name: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DeleteUser, || {
            self.inner.delete_user(name)
        })
        .await
    }
    async fn attach_user_policy(&self, user: &str, arn: &str) -> AwsResult<()> {
        guard(&self.faults, Op::AttachUserPolicy, || {
            self.inner.attach_user_policy(user, arn)
        })
        .await
    }
    async fn detach_user_policy(&self, user: &str, arn: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DetachUserPolicy, || {
            self.inner.detach_user_policy(user, arn)
        })
        .await
    }
    async fn list_attached_user_policies(&self, user: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListAttachedUserPolicies, || {
            self.inner.list_attached_user_policies(user)
        })
        .await
    }
}

impl<I: AccessKeys> AccessKeys for FaultyIam<I> {
    async fn create_access_key(&self, user: &str) -> AwsResult<NewAccessKey> {
        guard(&self.faults, Op::CreateAccessKey, || {
            self.inner.create_access_key(user)
        })
        .await
    }
    async fn list_access_keys(&self, user: &str) -> AwsResult<Vec<AccessKeyInfo>> {
        guard(&self.faults, Op::ListAccessKeys, || {
            self.inner.list_access_keys(user)
        })
        .await
    }
    async fn set_access_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> AwsResult<()> {
        guard(&self.faults, Op::SetAccessKeyStatus, || {
            self.inner.set_access_key_status(user, key_id, status)
        })
        .await
    }
    async fn delete_access_key(&self, user: &str, key_id: &str) -> AwsResult<()> {
        guard(&self.faults, Op::DeleteAccessKey, || {
            self.inner.delete_access_key(user, key_id)
        })
        .await
    }
    async fn access_key_last_used(&self, key_id: &str) -> AwsResult<Option<i64>> {
        guard(&self.faults, Op::AccessKeyLastUsed, || {
            self.inner.access_key_last_used(key_id)
        })
        .await
    }
}

impl<S: Secrets> Secrets for FaultySecrets<S> {
    async fn create_secret(
        &self,
        name: &str,
        description: &str,
        text: &SecretText,
        tags: &Tags,
        kms_key_id: Option<&str>,
        request_token: Option<&str>,
    ) -> AwsResult<String> {
        guard(&self.faults, Op::CreateSecret, || {
            self.inner
                .create_secret(name, description, text, tags, kms_key_id, request_token)
        })
        .await
    }
    async fn describe_secret(&self, name: &str) -> AwsResult<SecretDescription> {
        guard(&self.faults, Op::DescribeSecret, || {
            self.inner.describe_secret(name)
        })
        .await
    }
    async fn get_secret_value(&self, name: &str, stage: &str) -> AwsResult<SecretValue> {
        guard(&self.faults, Op::GetSecretValue, || {
            self.inner.get_secret_value(name, stage)
        })
        .await
    }
    async fn put_secret_value(
        &self,
        name: &str,
        text: &SecretText,
        stages: &[&str],
        token: &str,
    ) -> AwsResult<String> {
        guard(&self.faults, Op::PutSecretValue, || {
            self.inner.put_secret_value(name, text, stages, token)
        })
        .await
    }
    async fn move_stage(
        &self,
        name: &str,
        stage: &str,
        to: &str,
        from: Option<&str>,
    ) -> AwsResult<()> {
        guard(&self.faults, Op::MoveStage, || {
            self.inner.move_stage(name, stage, to, from)
        })
        .await
    }
    async fn remove_stage(&self, name: &str, stage: &str, from: &str) -> AwsResult<()> {
        guard(&self.faults, Op::RemoveStage, || {
            self.inner.remove_stage(name, stage, from)
        })
        .await
    }
    async fn get_resource_policy(&self, name: &str) -> AwsResult<Option<Value>> {
        guard(&self.faults, Op::GetResourcePolicy, || {
            self.inner.get_resource_policy(name)
        })
        .await
    }
    async fn put_resource_policy(&self, name: &str, policy: &Value) -> AwsResult<()> {
        guard(&self.faults, Op::PutResourcePolicy, || {
            self.inner.put_resource_policy(name, policy)
        })
        .await
    }
    async fn tag_secret(&self, name: &str, tags: &Tags) -> AwsResult<()> {
        guard(&self.faults, Op::TagSecret, || {
            self.inner.tag_secret(name, tags)
        })
        .await
    }
    async fn delete_secret(&self, name: &str, recovery_days: Option<i64>) -> AwsResult<()> {
        guard(&self.faults, Op::DeleteSecret, || {
            self.inner.delete_secret(name, recovery_days)
        })
        .await
    }
    async fn restore_secret(&self, name: &str) -> AwsResult<()> {
        guard(&self.faults, Op::RestoreSecret, || {
            self.inner.restore_secret(name)
        })
        .await
    }
    async fn list_secrets(&self, prefix: &str) -> AwsResult<Vec<SecretSummary>> {
        guard(&self.faults, Op::ListSecrets, || {
            self.inner.list_secrets(prefix)
        })
        .await
    }
}

impl<I: Inventory> Inventory for FaultyIam<I> {
    async fn list_roles(&self) -> AwsResult<Vec<RoleSummary>> {
        guard(&self.faults, Op::ListRoles, || self.inner.list_roles()).await
    }
    async fn role_usage(&self, name: &str) -> AwsResult<RoleUsage> {
        guard(&self.faults, Op::RoleUsage, || self.inner.role_usage(name)).await
    }
    async fn list_users(&self) -> AwsResult<Vec<UserInfo>> {
        guard(&self.faults, Op::ListUsers, || self.inner.list_users()).await
    }
    async fn list_user_policies(&self, user: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListUserPolicies, || {
            self.inner.list_user_policies(user)
        })
        .await
    }
    async fn get_user_policy(&self, user: &str, policy_name: &str) -> AwsResult<Value> {
        guard(&self.faults, Op::GetUserPolicy, || {
            self.inner.get_user_policy(user, policy_name)
        })
        .await
    }
    async fn list_groups_for_user(&self, user: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListGroupsForUser, || {
            self.inner.list_groups_for_user(user)
        })
        .await
    }
    async fn list_group_policies(&self, group: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListGroupPolicies, || {
            self.inner.list_group_policies(group)
        })
        .await
    }
    async fn get_group_policy(&self, group: &str, policy_name: &str) -> AwsResult<Value> {
        guard(&self.faults, Op::GetGroupPolicy, || {
            self.inner.get_group_policy(group, policy_name)
        })
        .await
    }
    async fn list_attached_group_policies(&self, group: &str) -> AwsResult<Vec<String>> {
        guard(&self.faults, Op::ListAttachedGroupPolicies, || {
            self.inner.list_attached_group_policies(group)
        })
        .await
    }
    async fn list_local_policies(&self, path_prefix: &str) -> AwsResult<Vec<PolicySummary>> {
        guard(&self.faults, Op::ListLocalPolicies, || {
            self.inner.list_local_policies(path_prefix)
        })
        .await
    }
}

impl<S: Sts> Sts for FaultySts<S> {
    async fn caller_identity(&self) -> AwsResult<CallerIdentity> {
        guard(&self.faults, Op::CallerIdentity, || {
            self.inner.caller_identity()
        })
        .await
    }
    async fn assume_role(
        &self,
        role_arn: &str,
        session: &str,
        external_id: Option<&str>,
    ) -> AwsResult<Credentials> {
        guard(&self.faults, Op::AssumeRole, || {
            self.inner.assume_role(role_arn, session, external_id)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A call that counts how often it ran, standing for a write.
    async fn write(count: &AtomicU32) -> AwsResult<u32> {
        Ok(count.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn a_fault_before_skips_the_call_and_fires_once_on_the_nth() {
        let f = Faults::new();
        let n = AtomicU32::new(0);
        f.arm(Op::MoveStage, 2, When::Before);
        assert_eq!(guard(&f, Op::MoveStage, || write(&n)).await, Ok(1));
        assert_eq!(guard(&f, Op::RemoveStage, || write(&n)).await, Ok(2));
        assert!(!f.fired());
        let e = guard(&f, Op::MoveStage, || write(&n)).await.unwrap_err();
        assert_eq!(e, injected(Op::MoveStage));
        assert_eq!(n.load(Ordering::SeqCst), 2, "the faulted call was not made");
        assert!(f.fired());
        assert_eq!(
            guard(&f, Op::MoveStage, || write(&n)).await,
            Ok(3),
            "once only"
        );
        assert_eq!(
            f.calls(),
            [Op::MoveStage, Op::RemoveStage, Op::MoveStage, Op::MoveStage]
        );
        f.clear_calls();
        assert!(f.calls().is_empty());
    }

    #[tokio::test]
    async fn a_fault_after_makes_the_call_then_fails() {
        let f = Faults::new();
        let n = AtomicU32::new(0);
        f.arm(Op::PutSecretValue, 1, When::After);
        let e = guard(&f, Op::PutSecretValue, || write(&n))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "put_secret_value: injected fault");
        assert_eq!(n.load(Ordering::SeqCst), 1, "the write happened");
        assert!(f.fired());
    }

    #[tokio::test]
    async fn disarm_and_rearm() {
        let f = Faults::new();
        let n = AtomicU32::new(0);
        f.arm(Op::TagSecret, 1, When::Before);
        f.disarm();
        assert!(guard(&f, Op::TagSecret, || write(&n)).await.is_ok());
        assert!(!f.fired());
        f.arm(Op::TagSecret, 1, When::Before);
        let clone = f.clone();
        assert!(guard(&clone, Op::TagSecret, || write(&n)).await.is_err());
        assert!(f.fired(), "clones share the fault");
        f.arm(Op::TagSecret, 1, When::After);
        assert!(!f.fired(), "arming resets fired");
    }

    #[test]
    #[should_panic(expected = "1-based")]
    fn nth_zero_is_refused() {
        Faults::new().arm(Op::PutSecretValue, 0, When::Before);
    }
}
