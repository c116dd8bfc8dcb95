//! One narrow trait per port. Handlers are generic over these; the SDK adapters and test
//! fakes implement them. No SDK type crosses this boundary.

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value;
use trustlink_domain::withheld::Withheld;
use trustlink_domain::{SecretAccessKey, SecretText, SessionToken};

use crate::AwsError;

pub use crate::op::Op;

pub type AwsResult<T> = std::result::Result<T, AwsError>;

/// A role to create. Its `Debug` withholds the trust policy (it names external IDs).
#[derive(Clone, PartialEq)]
pub struct RoleDefinition {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    pub trust_policy: Value,
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A role as IAM has it. Its `Debug` withholds the trust policy (it names external IDs).
#[derive(Clone, PartialEq)]
pub struct RoleInfo {
    pub arn: String,
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    /// Decoded from the URL-encoded text GetRole returns.
    pub trust_policy: Value,
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl std::fmt::Debug for RoleDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleDefinition")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("trust_policy", &Withheld(&self.trust_policy))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RoleInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleInfo")
            .field("arn", &self.arn)
            .field("trust_policy", &Withheld(&self.trust_policy))
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

/// The trusting account's roles: the role itself, its trust policy, its permissions.
pub trait Roles: Send + Sync {
    fn create_role(
        &self,
        role: &RoleDefinition,
    ) -> impl Future<Output = AwsResult<RoleInfo>> + Send;
    fn get_role(&self, name: &str) -> impl Future<Output = AwsResult<RoleInfo>> + Send;
    fn update_trust_policy(
        &self,
        name: &str,
        policy: &Value,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// Description and maximum session duration.
    fn update_role(
        &self,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn set_permissions_boundary(
        &self,
        name: &str,
        boundary: Option<&str>,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn tag_role(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn untag_role(&self, name: &str, keys: &[String])
        -> impl Future<Output = AwsResult<()>> + Send;
    fn delete_role(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    fn attach_role_policy(
        &self,
        name: &str,
        policy_arn: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn detach_role_policy(
        &self,
        name: &str,
        policy_arn: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn list_attached_role_policies(
        &self,
        name: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    fn put_role_policy(
        &self,
        name: &str,
        policy_name: &str,
        document: &Value,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn get_role_policy(
        &self,
        name: &str,
        policy_name: &str,
    ) -> impl Future<Output = AwsResult<Value>> + Send;
    fn delete_role_policy(
        &self,
        name: &str,
        policy_name: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn list_role_policies(&self, name: &str)
        -> impl Future<Output = AwsResult<Vec<String>>> + Send;
}

/// Customer managed policies (the grant) and checks on AWS managed ones.
pub trait Policies: Send + Sync {
    /// Returns the new policy's ARN.
    fn create_policy(
        &self,
        path: &str,
        name: &str,
        description: &str,
        document: &Value,
    ) -> impl Future<Output = AwsResult<String>> + Send;
    /// Whether a managed policy exists (AWS managed or customer managed).
    fn policy_exists(&self, arn: &str) -> impl Future<Output = AwsResult<bool>> + Send;
    /// The default version's document.
    fn get_policy_document(&self, arn: &str) -> impl Future<Output = AwsResult<Value>> + Send;
    /// Makes `document` the default version, deleting older versions to stay under IAM's five.
    fn set_policy_document(
        &self,
        arn: &str,
        document: &Value,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// Deletes the policy and all its versions (it must be detached first).
    fn delete_policy(&self, arn: &str) -> impl Future<Output = AwsResult<()>> + Send;
}

/// The trusted account's principals: users trustlink may create, and attaching the grant.
pub trait Users: Send + Sync {
    fn create_user(
        &self,
        path: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = AwsResult<UserInfo>> + Send;
    fn get_user(&self, name: &str) -> impl Future<Output = AwsResult<UserInfo>> + Send;
    fn delete_user(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    fn attach_user_policy(
        &self,
        user: &str,
        policy_arn: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn detach_user_policy(
        &self,
        user: &str,
        policy_arn: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn list_attached_user_policies(
        &self,
        user: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub arn: String,
    pub name: String,
    pub path: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// An access key without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub id: String,
    pub status: KeyStatus,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

/// A key just created: the only moment its secret is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessKey {
    pub id: String,
    pub secret: SecretAccessKey,
}

pub trait AccessKeys: Send + Sync {
    /// IAM allows two keys per user; a third surfaces as [`crate::ErrorKind::LimitExceeded`].
    fn create_access_key(&self, user: &str)
        -> impl Future<Output = AwsResult<NewAccessKey>> + Send;
    fn list_access_keys(
        &self,
        user: &str,
    ) -> impl Future<Output = AwsResult<Vec<AccessKeyInfo>>> + Send;
    fn set_access_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn delete_access_key(
        &self,
        user: &str,
        key_id: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// When the key was last used (epoch seconds), if ever.
    fn access_key_last_used(
        &self,
        key_id: &str,
    ) -> impl Future<Output = AwsResult<Option<i64>>> + Send;
}

/// A version of a secret with its staging labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub version_id: String,
    pub stages: Vec<String>,
    /// Seconds since the Unix epoch. `None` from `describe_secret`: DescribeSecret has no
    /// dates per version, and asking ListSecretVersionIds on every read doubled the calls;
    /// `get_secret_value` has the date of the version it reads.
    pub created: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretValue {
    pub version_id: String,
    pub stages: Vec<String>,
    pub text: SecretText,
    pub created: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDescription {
    pub arn: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub versions: Vec<SecretVersion>,
    /// Scheduled for deletion: the name stays taken until it is restored or purged.
    pub scheduled_for_deletion: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    pub arn: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// Secrets Manager, in the hub account.
pub trait Secrets: Send + Sync {
    /// Creates the secret with `text` as AWSCURRENT. `request_token` makes a retry idempotent.
    /// Returns the ARN.
    fn create_secret(
        &self,
        name: &str,
        description: &str,
        text: &SecretText,
        tags: &BTreeMap<String, String>,
        kms_key_id: Option<&str>,
        request_token: Option<&str>,
    ) -> impl Future<Output = AwsResult<String>> + Send;
    fn describe_secret(
        &self,
        name: &str,
    ) -> impl Future<Output = AwsResult<SecretDescription>> + Send;
    fn get_secret_value(
        &self,
        name: &str,
        stage: &str,
    ) -> impl Future<Output = AwsResult<SecretValue>> + Send;
    /// Adds a version with the given stages. Repeating the same `request_token` with the same
    /// text is a no-op, which makes a retried step idempotent. Returns the version id.
    fn put_secret_value(
        &self,
        name: &str,
        text: &SecretText,
        stages: &[&str],
        request_token: &str,
    ) -> impl Future<Output = AwsResult<String>> + Send;
    /// Moves `stage` to `to_version`, taking it from `from_version` (required when another
    /// version holds it).
    fn move_stage(
        &self,
        name: &str,
        stage: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn remove_stage(
        &self,
        name: &str,
        stage: &str,
        from_version: &str,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn put_resource_policy(
        &self,
        name: &str,
        policy: &Value,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// The secret's resource policy, `None` when it has none: an Update compares before it
    /// writes.
    fn get_resource_policy(
        &self,
        name: &str,
    ) -> impl Future<Output = AwsResult<Option<Value>>> + Send;
    fn tag_secret(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    /// Schedules deletion (`recovery_days`) or, with `None`, deletes at once.
    fn delete_secret(
        &self,
        name: &str,
        recovery_days: Option<i64>,
    ) -> impl Future<Output = AwsResult<()>> + Send;
    fn restore_secret(&self, name: &str) -> impl Future<Output = AwsResult<()>> + Send;
    /// Every secret whose name starts with `prefix`.
    fn list_secrets(
        &self,
        prefix: &str,
    ) -> impl Future<Output = AwsResult<Vec<SecretSummary>>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretAccessKey,
    pub session_token: Option<SessionToken>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// STS with this port's credentials.
pub trait Sts: Send + Sync {
    fn caller_identity(&self) -> impl Future<Output = AwsResult<CallerIdentity>> + Send;
    fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> impl Future<Output = AwsResult<Credentials>> + Send;
}

/// Where a handler acts: IAM of any account, STS as a given identity, the hub's secrets.
pub trait Cloud: Send + Sync {
    type Iam: Roles + Policies + Users + AccessKeys + Clone + Send + Sync + 'static;
    type Sts: Sts + Send + Sync + 'static;
    type Secrets: Secrets + Clone + Send + Sync + 'static;

    /// The account the function runs in.
    fn home_account(&self) -> impl Future<Output = AwsResult<trustlink_domain::AccountId>> + Send;
    fn iam(
        &self,
        account: &trustlink_domain::AccountId,
    ) -> impl Future<Output = AwsResult<Self::Iam>> + Send;
    fn secrets(&self) -> Self::Secrets;
    /// STS as whoever holds `credentials` (a link's key, an assumed session).
    fn sts_as(&self, credentials: &Credentials) -> Self::Sts;
}

/// A role as `iam:ListRoles` lists it (no tags, no last use: ask [`Inventory::role_usage`]).
/// Its `Debug` withholds the trust policy (it names external IDs).
#[derive(Clone, PartialEq)]
pub struct RoleSummary {
    pub arn: String,
    pub name: String,
    pub path: String,
    /// Decoded from the URL-encoded text IAM returns.
    pub trust_policy: Value,
    pub max_session_duration: Option<u32>,
    /// Seconds since the Unix epoch.
    pub created: i64,
}

impl std::fmt::Debug for RoleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleSummary")
            .field("arn", &self.arn)
            .field("trust_policy", &Withheld(&self.trust_policy))
            .finish_non_exhaustive()
    }
}

/// When a role was created and last used (`iam:GetRole`'s `RoleLastUsed`), epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleUsage {
    pub created: i64,
    pub last_used: Option<i64>,
}

/// A customer managed policy as `iam:ListPolicies` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySummary {
    pub arn: String,
    pub name: String,
    pub path: String,
    pub attachments: u32,
}

/// Read-only IAM for audits and diagnoses: every role, user and local policy of an account,
/// and the inline and group policies of a principal. Paginated calls return every page.
pub trait Inventory: Send + Sync {
    fn list_roles(&self) -> impl Future<Output = AwsResult<Vec<RoleSummary>>> + Send;
    fn role_usage(&self, name: &str) -> impl Future<Output = AwsResult<RoleUsage>> + Send;
    /// Every user (ListUsers has no tags: ask `Users::get_user`).
    fn list_users(&self) -> impl Future<Output = AwsResult<Vec<UserInfo>>> + Send;
    fn list_user_policies(&self, user: &str)
        -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    fn get_user_policy(
        &self,
        user: &str,
        policy_name: &str,
    ) -> impl Future<Output = AwsResult<Value>> + Send;
    /// Group names.
    fn list_groups_for_user(
        &self,
        user: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    fn list_group_policies(
        &self,
        group: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    fn get_group_policy(
        &self,
        group: &str,
        policy_name: &str,
    ) -> impl Future<Output = AwsResult<Value>> + Send;
    fn list_attached_group_policies(
        &self,
        group: &str,
    ) -> impl Future<Output = AwsResult<Vec<String>>> + Send;
    /// Customer managed policies under `path_prefix`.
    fn list_local_policies(
        &self,
        path_prefix: &str,
    ) -> impl Future<Output = AwsResult<Vec<PolicySummary>>> + Send;
}

/// A message for a FIFO queue. Messages of one group are delivered one batch at a time, in
/// order; a second message with the same deduplication id within SQS's five-minute window is
/// accepted and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    pub group_id: String,
    pub deduplication_id: String,
}

/// SendMessageBatch's limits: entries per call, and bytes of all bodies together.
pub const QUEUE_BATCH_ENTRIES: usize = 10;
pub const QUEUE_BATCH_BYTES: usize = 256 * 1024;

/// A message of a batch the queue did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedMessage {
    /// Its position in the batch sent.
    pub index: usize,
    /// The request was wrong (resending it cannot help), rather than a fault on SQS's side.
    pub sender_fault: bool,
    pub reason: String,
}

/// The rotator's fan-out queue (one FIFO queue, known to the adapter).
pub trait Queue: Send + Sync {
    /// Sends at most [`QUEUE_BATCH_ENTRIES`] messages, [`QUEUE_BATCH_BYTES`] of bodies, in one
    /// call. Returns the messages the queue refused (an empty list: all were taken).
    fn send_message_batch(
        &self,
        messages: &[QueueMessage],
    ) -> impl Future<Output = AwsResult<Vec<RefusedMessage>>> + Send;
}
