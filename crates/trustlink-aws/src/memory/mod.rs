//! The ports in memory: a fast test tier that needs no AWS, moto or Python.
//!
//! [`MemoryCloud`] keeps accounts (the hub `123456789012` and the member accounts added
//! with [`MemoryCloud::add_account`]), each with its roles, users, access keys and customer
//! managed policies, and the hub's secrets. It models the rules the handlers rely on, with
//! the error kinds and operation names the SDK adapters return for them, as a caller of
//! the ports sees them:
//!
//! - IAM: `EntityAlreadyExists` (names unique per account, case-insensitively),
//!   `NoSuchEntity`, two access keys per user, five versions per managed policy, ten
//!   attached policies per role or user, fifty tags, `DeleteConflict` for a role, user or
//!   policy that still has policies, keys or attachments; AWS managed policies exist.
//! - Secrets Manager: the staging labels and how they move (AWSCURRENT's old version gets
//!   AWSPREVIOUS), ClientRequestToken idempotency, deletion with a recovery window.
//! - STS: the caller identity of a key or session, AssumeRole of an existing role, the
//!   last use of keys and roles. Trust policies are **not** evaluated: a test of who may
//!   assume what belongs on a backend that evaluates them (fakecloud).
//!
//! Time is the system clock plus an offset ([`MemoryCloud::advance`]), so that it agrees
//! with the functions' clocks and a test can pass recovery windows and grace periods.

mod access_keys;
mod inventory;
mod policies;
mod queue;
mod roles;
mod secrets;
mod sts;
mod users;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use trustlink_domain::AccountId;

use crate::ports::{AwsResult, Cloud, Credentials};
use crate::{AwsError, ErrorKind, DEFAULT_ADMIN_ROLE_NAME};

pub use queue::MemoryQueue;
pub use secrets::MemorySecrets;
pub use sts::MemorySts;

/// The hub account: where the functions run and the secrets live.
pub const HUB: &str = "123456789012";
/// The region of the secrets' ARNs.
pub const REGION: &str = "us-east-1";

/// Every account and secret, shared by every port handed out. Cheap to clone; clones share
/// the state.
#[derive(Clone, Debug)]
pub struct MemoryCloud {
    world: Shared,
}

type Shared = Arc<Mutex<World>>;

#[derive(Debug)]
struct World {
    accounts: BTreeMap<String, Account>,
    secrets: secrets::Store,
    sessions: BTreeMap<String, sts::Session>,
    env: Env,
}

/// The clock and the source of identifiers.
#[derive(Debug, Default)]
struct Env {
    offset: i64,
    seq: u64,
}

impl Env {
    fn now(&self) -> i64 {
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        system + self.offset
    }

    /// A fresh identifier: `prefix` and then `len` upper-case letters and digits, unique
    /// within this cloud (access key ids look like `AKIA…`, role ids like `AROA…`).
    fn id(&mut self, prefix: &str, len: usize) -> String {
        self.seq += 1;
        let mut n = self.seq;
        let mut tail = Vec::with_capacity(len);
        for _ in 0..len {
            tail.push(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize]);
            n /= 36;
        }
        tail.reverse();
        format!("{prefix}{}", String::from_utf8(tail).expect("ASCII"))
    }
}

/// One account's IAM.
#[derive(Debug, Default)]
struct Account {
    id: String,
    /// Keyed by lower-cased name: IAM names are unique regardless of case.
    roles: BTreeMap<String, roles::Role>,
    users: BTreeMap<String, users::User>,
    policies: BTreeMap<String, policies::Policy>,
}

impl Account {
    fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            ..Self::default()
        }
    }
}

impl Default for MemoryCloud {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCloud {
    /// The hub account alone.
    pub fn new() -> Self {
        let mut accounts = BTreeMap::new();
        accounts.insert(HUB.to_string(), Account::new(HUB));
        Self {
            world: Arc::new(Mutex::new(World {
                accounts,
                secrets: secrets::Store::default(),
                sessions: BTreeMap::new(),
                env: Env::default(),
            })),
        }
    }

    /// The hub and the given member accounts.
    pub fn with_accounts(members: &[&str]) -> Self {
        let cloud = Self::new();
        for id in members {
            cloud.add_account(id);
        }
        cloud
    }

    /// A member account, reachable through its admin role (as `member-account.yaml`
    /// provisions it). Adding one twice keeps the first.
    pub fn add_account(&self, id: &str) -> AccountId {
        let account = AccountId::parse("account", id).expect("a 12-digit account id");
        lock(&self.world)
            .accounts
            .entry(id.to_string())
            .or_insert_with(|| Account::new(id));
        account
    }

    /// Seconds since the Unix epoch, as this cloud sees it.
    pub fn now(&self) -> i64 {
        lock(&self.world).env.now()
    }

    /// Moves this cloud's clock forward (recovery windows pass, keys age).
    pub fn advance(&self, seconds: i64) {
        lock(&self.world).env.offset += seconds;
    }

    /// The IAM of `account`, without the admin-role check of [`Cloud::iam`].
    pub fn iam_of(&self, account: &str) -> MemoryIam {
        assert!(
            lock(&self.world).accounts.contains_key(account),
            "no account {account} in this cloud"
        );
        MemoryIam {
            world: self.world.clone(),
            account: account.to_string(),
        }
    }
}

/// A panic while the lock was held leaves no half-made change: every operation checks
/// before it writes.
fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cloud for MemoryCloud {
    type Iam = MemoryIam;
    type Sts = MemorySts;
    type Secrets = MemorySecrets;

    async fn home_account(&self) -> AwsResult<AccountId> {
        Ok(AccountId::parse("account", HUB).expect("the hub's id is valid"))
    }

    /// A member account not added is one whose admin role the hub cannot assume.
    async fn iam(&self, account: &AccountId) -> AwsResult<MemoryIam> {
        let id = account.to_string();
        if !lock(&self.world).accounts.contains_key(&id) {
            return Err(AwsError::new(
                "sts:AssumeRole",
                ErrorKind::AccessDenied,
                format!(
                    "User: arn:aws:sts::{HUB}:assumed-role/trustlink/function is not \
                     authorized to perform: sts:AssumeRole on resource: \
                     arn:aws:iam::{id}:role/{DEFAULT_ADMIN_ROLE_NAME}"
                ),
            ));
        }
        Ok(self.iam_of(&id))
    }

    fn secrets(&self) -> MemorySecrets {
        MemorySecrets::new(self.world.clone())
    }

    fn sts_as(&self, credentials: &Credentials) -> MemorySts {
        MemorySts::new(self.world.clone(), credentials.clone())
    }
}

/// The IAM of one account: roles, policies, users, access keys, the inventory.
#[derive(Clone, Debug)]
pub struct MemoryIam {
    world: Shared,
    account: String,
}

impl MemoryIam {
    /// Runs `f` on this account (and the clock), under the lock.
    fn with<T>(&self, f: impl FnOnce(&mut Account, &mut Env) -> T) -> T {
        let mut world = lock(&self.world);
        let World { accounts, env, .. } = &mut *world;
        let account = accounts
            .get_mut(&self.account)
            .expect("accounts are never removed");
        f(account, env)
    }
}

/// The error kinds the services answer with, named as the adapters map them.
fn error(operation: &'static str, kind: ErrorKind, message: impl Into<String>) -> AwsError {
    AwsError::new(operation, kind, message)
}

fn not_found(operation: &'static str, message: impl Into<String>) -> AwsError {
    error(operation, ErrorKind::NotFound, message)
}

fn invalid(operation: &'static str, message: impl Into<String>) -> AwsError {
    error(operation, ErrorKind::Invalid, message)
}

/// IAM's `DeleteConflict` is not a code callers decide on: the adapters map it to `Other`
/// with the code in front of the message.
fn delete_conflict(operation: &'static str, message: &str) -> AwsError {
    AwsError::other(operation, format!("DeleteConflict: {message}"))
}

/// IAM's rules for names of roles, users and policies: 1 to `max` of `[\w+=,.@-]`.
fn check_name(operation: &'static str, name: &str, max: usize) -> AwsResult<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            operation,
            format!("The specified value for name is invalid: {name:?}"),
        ))
    }
}

/// IAM paths begin and end with `/` and hold printable ASCII.
fn check_path(operation: &'static str, path: &str) -> AwsResult<()> {
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            operation,
            format!("The specified value for path is invalid: {path:?}"),
        ))
    }
}

/// IAM and Secrets Manager both allow fifty tags on a resource.
const MAX_TAGS: usize = 50;

/// Merges `new` into `tags` unless the result would hold more than fifty.
fn merge_tags(
    operation: &'static str,
    tags: &mut BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> AwsResult<()> {
    let mut merged = tags.clone();
    merged.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
    if merged.len() > MAX_TAGS {
        return Err(error(
            operation,
            ErrorKind::LimitExceeded,
            format!("The number of tags has reached the maximum limit of {MAX_TAGS}."),
        ));
    }
    *tags = merged;
    Ok(())
}

/// A policy document is a JSON object; anything else IAM calls malformed.
fn check_document(operation: &'static str, document: &serde_json::Value) -> AwsResult<()> {
    if document.is_object() {
        Ok(())
    } else {
        Err(invalid(operation, "Syntax errors in policy."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Roles;

    pub(super) const MEMBER: &str = "111122223333";

    #[tokio::test]
    async fn the_hub_is_home_and_members_are_reached_only_once_added() {
        let cloud = MemoryCloud::new();
        assert_eq!(cloud.home_account().await.unwrap().to_string(), HUB);
        let member = AccountId::parse("account", MEMBER).unwrap();
        let e = cloud.iam(&member).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        cloud.add_account(MEMBER);
        let iam = cloud.iam(&member).await.unwrap();
        assert!(iam.get_role("Nobody").await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn each_account_has_its_own_iam() {
        let cloud = MemoryCloud::with_accounts(&[MEMBER]);
        let role = roles::tests::definition("Shared");
        cloud.iam_of(MEMBER).create_role(&role).await.unwrap();
        assert!(cloud.iam_of(HUB).get_role("Shared").await.is_err());
        let hub = cloud.iam_of(HUB).create_role(&role).await.unwrap();
        assert_eq!(hub.arn, "arn:aws:iam::123456789012:role/trustlink/Shared");
    }

    #[test]
    fn ids_are_unique_and_shaped_like_aws_ids() {
        let mut env = Env::default();
        let a = env.id("AKIA", 16);
        let b = env.id("AKIA", 16);
        assert_ne!(a, b);
        assert_eq!(a.len(), 20);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }

    #[test]
    fn the_clock_advances() {
        let cloud = MemoryCloud::new();
        let before = cloud.now();
        cloud.advance(86_400);
        assert!(cloud.now() >= before + 86_400);
    }

    #[test]
    fn names_paths_and_tags_are_checked() {
        assert!(check_name("iam:CreateRole", "Good.Name@x", 64).is_ok());
        assert_eq!(
            check_name("iam:CreateRole", "bad name", 64)
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
        assert!(check_name("iam:CreateRole", &"a".repeat(65), 64).is_err());
        assert!(check_path("iam:CreateRole", "/a/b/").is_ok());
        assert!(check_path("iam:CreateRole", "a/").is_err());
        let mut tags = BTreeMap::new();
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        let e = merge_tags("iam:TagRole", &mut tags, &many).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        assert!(tags.is_empty(), "a refused tagging changes nothing");
    }
}
