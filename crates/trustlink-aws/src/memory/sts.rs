//! STS in memory: who a key or session is, and AssumeRole of a role that exists. Trust
//! policies are not evaluated (see the module above).

use trustlink_domain::{SecretAccessKey, SessionToken};

use super::{error, invalid, lock, Shared, World};
use crate::ports::{AwsResult as Result, CallerIdentity, Credentials, KeyStatus, Sts};
use crate::{AwsError, ErrorKind};

/// An assumed-role session: what its credentials stand for.
#[derive(Debug, Clone)]
pub(super) struct Session {
    secret: String,
    token: String,
    account: String,
    role_name: String,
    role_id: String,
    session_name: String,
}

/// Whoever signed a call.
enum Caller {
    User {
        account: String,
        arn: String,
        id: String,
    },
    Session(Session),
}

impl Caller {
    fn identity(&self) -> CallerIdentity {
        match self {
            Caller::User { account, arn, id } => CallerIdentity {
                account: account.clone(),
                arn: arn.clone(),
                user_id: id.clone(),
            },
            Caller::Session(s) => CallerIdentity {
                account: s.account.clone(),
                arn: format!(
                    "arn:aws:sts::{}:assumed-role/{}/{}",
                    s.account, s.role_name, s.session_name
                ),
                user_id: format!("{}:{}", s.role_id, s.session_name),
            },
        }
    }
}

/// STS as the holder of some credentials.
#[derive(Clone, Debug)]
pub struct MemorySts {
    world: Shared,
    credentials: Credentials,
}

impl MemorySts {
    pub(super) fn new(world: Shared, credentials: Credentials) -> Self {
        Self { world, credentials }
    }
}

fn denied(operation: &'static str, message: impl Into<String>) -> AwsError {
    error(operation, ErrorKind::AccessDenied, message)
}

/// Checks the credentials as STS does (unknown, inactive or wrongly signed is refused) and
/// records the use of a long-term key, as IAM's last-used date does.
fn authenticate(world: &mut World, c: &Credentials, operation: &'static str) -> Result<Caller> {
    let invalid_token = || {
        denied(
            operation,
            "The security token included in the request is invalid.",
        )
    };
    if let Some(session) = world.sessions.get(&c.access_key_id) {
        let signed = session.secret == c.secret_access_key.expose()
            && c.session_token.as_ref().map(|t| t.expose()) == Some(session.token.as_str());
        return if signed {
            Ok(Caller::Session(session.clone()))
        } else {
            Err(invalid_token())
        };
    }
    let now = world.env.now();
    for account in world.accounts.values_mut() {
        for user in account.users.values_mut() {
            let Some(key) = user.keys.iter_mut().find(|k| k.id == c.access_key_id) else {
                continue;
            };
            if key.secret != c.secret_access_key.expose() {
                return Err(denied(
                    operation,
                    "The request signature we calculated does not match the signature you provided.",
                ));
            }
            if key.status == KeyStatus::Inactive || c.session_token.is_some() {
                return Err(invalid_token());
            }
            key.last_used = Some(now);
            return Ok(Caller::User {
                account: account.id.clone(),
                arn: user.info.arn.clone(),
                id: user.id.clone(),
            });
        }
    }
    Err(invalid_token())
}

/// STS's rules for session names (2 to 64 of `[\w+=,.@-]`) and external IDs (2 to 1224 of
/// `[\w+=,.@:/-]`).
fn check_assume(session_name: &str, external_id: Option<&str>) -> Result<()> {
    const OP: &str = "sts:AssumeRole";
    let chars_ok = |s: &str, extra: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) || extra.contains(c))
    };
    if !(2..=64).contains(&session_name.len()) || !chars_ok(session_name, "") {
        return Err(invalid(
            OP,
            format!("Invalid RoleSessionName {session_name:?}"),
        ));
    }
    if let Some(id) = external_id {
        if !(2..=1224).contains(&id.len()) || !chars_ok(id, ":/") {
            return Err(invalid(OP, "Invalid ExternalId"));
        }
    }
    Ok(())
}

/// The account and role name of `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    Some((account, name)).filter(|(a, n)| a.len() == 12 && !n.is_empty())
}

/// Starts a session of the role, if it exists (STS answers AccessDenied for a role that
/// does not), and records the role's last use.
fn assume(
    world: &mut World,
    caller: &Caller,
    role_arn: &str,
    session_name: &str,
) -> Result<Session> {
    const OP: &str = "sts:AssumeRole";
    let (account, name) = parse_role_arn(role_arn)
        .ok_or_else(|| invalid(OP, format!("{role_arn} is not a valid role ARN")))?;
    let now = world.env.now();
    let role = world
        .accounts
        .get_mut(account)
        .and_then(|a| a.roles.get_mut(&name.to_ascii_lowercase()))
        .ok_or_else(|| {
            denied(
                OP,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.identity().arn
                ),
            )
        })?;
    role.last_used = Some(now);
    let (role_name, role_id) = (role.info.name.clone(), role.id.clone());
    Ok(Session {
        secret: world.env.id("memory/session/", 25),
        token: world.env.id("memory/token/", 40),
        account: account.to_string(),
        role_name,
        role_id,
        session_name: session_name.to_string(),
    })
}

impl Sts for MemorySts {
    async fn caller_identity(&self) -> Result<CallerIdentity> {
        let mut world = lock(&self.world);
        Ok(authenticate(&mut world, &self.credentials, "sts:GetCallerIdentity")?.identity())
    }

    async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<Credentials> {
        let mut world = lock(&self.world);
        let caller = authenticate(&mut world, &self.credentials, "sts:AssumeRole")?;
        check_assume(session_name, external_id)?;
        let session = assume(&mut world, &caller, role_arn, session_name)?;
        let key_id = world.env.id("ASIA", 16);
        let credentials = Credentials {
            access_key_id: key_id.clone(),
            secret_access_key: SecretAccessKey::new(&session.secret),
            session_token: Some(SessionToken::new(&session.token)),
        };
        world.sessions.insert(key_id, session);
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::roles::tests::definition;
    use crate::memory::tests::MEMBER;
    use crate::memory::MemoryCloud;
    use crate::ports::{AccessKeys, Cloud, Inventory, Roles, Users};

    /// A member account with a role and a hub user with a key.
    async fn setup() -> (MemoryCloud, Credentials, String) {
        let cloud = MemoryCloud::with_accounts(&[MEMBER]);
        let role = cloud
            .iam_of(MEMBER)
            .create_role(&definition("Target"))
            .await
            .unwrap();
        let hub = cloud.iam_of(super::super::HUB);
        hub.create_user("/", "Consumer", &Default::default())
            .await
            .unwrap();
        let key = hub.create_access_key("Consumer").await.unwrap();
        let creds = Credentials {
            access_key_id: key.id,
            secret_access_key: key.secret,
            session_token: None,
        };
        (cloud, creds, role.arn)
    }

    #[tokio::test]
    async fn a_key_is_its_user() {
        let (cloud, creds, _) = setup().await;
        let me = cloud.sts_as(&creds).caller_identity().await.unwrap();
        assert_eq!(me.account, "123456789012");
        assert_eq!(me.arn, "arn:aws:iam::123456789012:user/Consumer");
        assert!(me.user_id.starts_with("AIDA"));
    }

    #[tokio::test]
    async fn an_assumed_session_is_the_role_and_session_name() {
        let (cloud, creds, role_arn) = setup().await;
        let session = cloud
            .sts_as(&creds)
            .assume_role(&role_arn, "trustlink-verify", Some("ExternalId0001"))
            .await
            .unwrap();
        assert!(session.access_key_id.starts_with("ASIA"));
        assert!(session.session_token.is_some());
        let me = cloud.sts_as(&session).caller_identity().await.unwrap();
        assert_eq!(
            me.arn,
            "arn:aws:sts::111122223333:assumed-role/Target/trustlink-verify"
        );
        assert_eq!(me.account, MEMBER);
        assert!(me.user_id.ends_with(":trustlink-verify"));
        let usage = cloud.iam_of(MEMBER).role_usage("Target").await.unwrap();
        assert!(
            usage.last_used.is_some(),
            "AssumeRole is the role's last use"
        );
    }

    #[tokio::test]
    async fn a_role_that_does_not_exist_is_access_denied() {
        let (cloud, creds, _) = setup().await;
        let sts = cloud.sts_as(&creds);
        for arn in [
            "arn:aws:iam::111122223333:role/trustlink/Nobody",
            "arn:aws:iam::999999999999:role/Target",
        ] {
            let e = sts.assume_role(arn, "s1", None).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AccessDenied, "{arn}: {e}");
        }
        let e = sts.assume_role("not-an-arn", "s1", None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }

    #[tokio::test]
    async fn session_names_and_external_ids_are_checked() {
        let (cloud, creds, role_arn) = setup().await;
        let sts = cloud.sts_as(&creds);
        let e = sts
            .assume_role(&role_arn, "bad name", None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        let e = sts
            .assume_role(&role_arn, "ok", Some("x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }

    #[tokio::test]
    async fn unknown_wrong_inactive_and_deleted_keys_are_refused() {
        let (cloud, creds, _) = setup().await;
        let mut wrong = creds.clone();
        wrong.secret_access_key = SecretAccessKey::new("not the secret");
        let mut unknown = creds.clone();
        unknown.access_key_id = "AKIAUNKNOWN000000000".into();
        for c in [&wrong, &unknown] {
            let e = cloud.sts_as(c).caller_identity().await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AccessDenied);
        }
        let hub = cloud.iam_of(super::super::HUB);
        hub.set_access_key_status("Consumer", &creds.access_key_id, KeyStatus::Inactive)
            .await
            .unwrap();
        let e = cloud.sts_as(&creds).caller_identity().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        hub.delete_access_key("Consumer", &creds.access_key_id)
            .await
            .unwrap();
        assert!(cloud.sts_as(&creds).caller_identity().await.is_err());
        let hub_iam = cloud
            .iam(&cloud.home_account().await.unwrap())
            .await
            .unwrap();
        assert!(hub_iam.get_user("Consumer").await.is_ok());
    }
}
