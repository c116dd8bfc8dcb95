//! Enforcement, on fakecloud only: what AWS would decide when a consumer uses a link made by
//! the real trust-link code. moto grants every AssumeRole, so none of this can be seen there.
//!
//! Each test fails if the property it guards is broken: a trust policy without the external
//! ID condition, with the wrong principal, without the MFA condition, a key that outlives its
//! link.

use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::json;
use trustlink_aws::ports::Sts;
use trustlink_aws::AccountAccess;
use trustlink_domain::record::AccessKeySecret;
use trustlink_tests::enforce::*;
use trustlink_tests::fakecloud::{self, Function};
use trustlink_tests::links::*;
use trustlink_tests::recorder::Recorder;
use trustlink_tests::*;

fn base_creds() -> aws_credential_types::Credentials {
    // Only for building a base configuration; every call sets its own credentials.
    aws_credential_types::Credentials::new("unused", "unused-secret", None, None, "base")
}

/// What `function` works with (as [`fakecloud::access`]), its calls through a recording proxy
/// in front of fakecloud, so a test counts what the code sends instead of timing it.
async fn recorded_access(function: Function) -> (AccountAccess, Recorder) {
    let fakecloud = fakecloud::fakecloud().endpoint();
    let port = fakecloud.rsplit(':').next().and_then(|p| p.parse().ok());
    let recorder = Recorder::start(port.expect("fakecloud's port"), Duration::ZERO).await;
    // Bootstraps the member accounts and the function's role, as every test's access does.
    fakecloud::access(function).await;
    let config = fakecloud::function_config(function)
        .await
        .to_builder()
        .endpoint_url(recorder.endpoint())
        .build();
    let access = AccountAccess::new(config, trustlink_aws::DEFAULT_ADMIN_ROLE_NAME);
    (access, recorder)
}

/// The STS calls an operation sent (through the recorder, since it was last taken): how many
/// assumed the link's role (a probe attempt each), and how many there were in all.
struct StsCalls {
    link_assumes: usize,
    all: usize,
}

fn sts_calls(recorder: &Recorder, role_arn: &str) -> StsCalls {
    let calls = recorder.take();
    let sts: Vec<_> = calls.iter().filter(|c| c.service == "sts").collect();
    StsCalls {
        link_assumes: sts
            .iter()
            .filter(|c| c.operation == "AssumeRole" && c.role_arn.as_deref() == Some(role_arn))
            .count(),
        all: sts.len(),
    }
}

/// Measured: the two member accounts' admin sessions and two GetCallerIdentity, for a
/// trust-link Create and for a rotation of both the external ID and the key alike. A retried
/// probe (the rotator has verify_attempts 5) would add to these.
const GATED_STS_CALLS: usize = 4;

/// A link made by the real trust-link code, with its AWSCURRENT external ID and key (the
/// key's secret registered with the log scan).
struct Made {
    link: Link,
    id: String,
    key: AccessKeySecret,
}

async fn make(access: &AccountAccess, prefix: &str, extra: serde_json::Value) -> Made {
    let link = create_link_with(access, prefix, extra).await;
    let (id, key) = read_current(access, &link).await.unwrap();
    crate_remember(&key);
    Made { link, id, key }
}

impl Made {
    /// Its consumer, calling the backend `base` is of.
    fn consumer<'a>(&'a self, base: &'a SdkConfig) -> Consumer<'a> {
        Consumer {
            base,
            key: &self.key,
            role_arn: &self.link.role_arn,
        }
    }
}

/// A link's consumer: its key, presented to its role, on one backend. Every probe of the
/// tests below is one of these, so each reads as what is presented and what AWS answers.
struct Consumer<'a> {
    base: &'a SdkConfig,
    key: &'a AccessKeySecret,
    role_arn: &'a str,
}

impl Consumer<'_> {
    async fn assume(&self, session: &str, presented: &Presented) -> Result<String, Denied> {
        assume(
            self.base,
            key_credentials(self.key),
            self.role_arn,
            session,
            presented,
        )
        .await
    }

    /// Asserts AWS refuses the assume as `AccessDenied`; `what` names the case.
    async fn refused(&self, session: &str, presented: &Presented, what: &str) {
        let r = self.assume(session, presented).await;
        assert_eq!(r.map_err(|d| d.code), Err("AccessDenied".into()), "{what}");
    }
}

/// The same link, used the same way, on both backends: the right external ID works on both;
/// a wrong one is refused only where trust policies are evaluated. On moto the test records
/// that it was granted, which is why the enforcement tests do not run there.
#[tokio::test]
async fn a_link_on_either_backend() {
    let logs = capture_logs();
    for backend in [Backend::Moto, Backend::FakeCloud] {
        let access = backend.access().await;
        let base = backend.config_with(base_creds()).await;
        let made = make(&access, "enf-both-", json!({})).await;
        let (link, id, consumer) = (&made.link, &made.id, made.consumer(&base));
        let me = consumer
            .assume("both", &Presented::id(id))
            .await
            .unwrap_or_else(|d| panic!("{}: {d}", backend.name()));
        assert_eq!(me, session_arn(link, "both"), "{}", backend.name());
        let wrong = consumer
            .assume("both", &Presented::id("WrongExternalId1234567890"))
            .await;
        if backend.evaluates_trust_policies() {
            assert_eq!(
                wrong.map_err(|d| d.code),
                Err("AccessDenied".into()),
                "{}",
                backend.name()
            );
        } else {
            assert!(
                wrong.is_ok(),
                "{} now refuses a wrong external ID: it evaluates trust policies; \
                 update Backend::evaluates_trust_policies",
                backend.name()
            );
        }
    }
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn the_member_admin_role_trusts_only_the_hub_function_roles() {
    let logs = capture_logs();
    let access = fakecloud::access(Function::TrustLink).await;
    let base = fakecloud::config_with(base_creds()).await;
    let admin = format!(
        "arn:aws:iam::{TRUSTING}:role/{}",
        trustlink_aws::DEFAULT_ADMIN_ROLE_NAME
    );
    // The functions get there (AccountAccess assumes TrustLinkAdmin as the function role).
    let iam = access.iam(&account(TRUSTING)).await.unwrap();
    use trustlink_aws::ports::Roles;
    assert!(iam
        .get_role(trustlink_aws::DEFAULT_ADMIN_ROLE_NAME)
        .await
        .is_ok());
    // Another principal of the hub does not.
    let other = fakecloud::fakecloud().admin_credentials(HUB_ACCOUNT, "someone-else");
    let denied = assume(&base, other, &admin, "intruder", &Presented::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code, "AccessDenied", "{denied}");
    // Nor does a principal of the member account itself.
    let member = fakecloud::fakecloud().admin_credentials(TRUSTED, "member-user");
    let denied = assume(&base, member, &admin, "intruder", &Presented::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code, "AccessDenied", "{denied}");
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn only_the_link_principal_with_the_external_id_gets_in() {
    let logs = capture_logs();
    let access = fakecloud::access(Function::TrustLink).await;
    let base = fakecloud::config_with(base_creds()).await;
    let made = make(&access, "enf-id-", json!({})).await;
    let (link, id, consumer) = (&made.link, made.id.as_str(), made.consumer(&base));

    // The right external ID: in, as the role.
    let me = consumer
        .assume("right", &Presented::id(id))
        .await
        .unwrap_or_else(|d| panic!("the link's key and external ID are refused: {d}"));
    assert_eq!(me, session_arn(link, "right"));

    // No external ID, a wrong one, a near miss: out.
    for (what, presented) in [
        ("no external ID", Presented::default()),
        (
            "a wrong external ID",
            Presented::id("WrongExternalId1234567890"),
        ),
        (
            "the ID with one character changed",
            Presented::id(&flip_last(id)),
        ),
    ] {
        match consumer.assume("wrong", &presented).await {
            Err(d) => assert_eq!(d.code, "AccessDenied", "{what}: {d}"),
            Ok(arn) => panic!("{what}: assumed the role as {arn}"),
        }
    }

    // Another principal of the trusted account, with the right ID: out.
    let other = fakecloud::fakecloud().admin_credentials(TRUSTED, "not-the-link-user");
    let r = assume(&base, other, &link.role_arn, "other", &Presented::id(id)).await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("AccessDenied".into()),
        "another principal"
    );

    // After the link is deleted (by the real handler): its key is gone, and so is the role
    // for any principal.
    service(&access)
        .delete(&link.role_arn, Some(&link.name))
        .await
        .unwrap();
    let r = consumer.assume("gone", &Presented::id(id)).await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("InvalidClientTokenId".into()),
        "the deleted link's key"
    );
    let someone = fakecloud::fakecloud().admin_credentials(TRUSTED, "not-the-link-user");
    let r = assume(&base, someone, &link.role_arn, "gone", &Presented::id(id)).await;
    assert_eq!(
        r.map_err(|d| d.code),
        Err("AccessDenied".into()),
        "a deleted role"
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn a_role_deleted_under_a_live_key_is_denied() {
    let logs = capture_logs();
    let access = fakecloud::access(Function::TrustLink).await;
    let base = fakecloud::config_with(base_creds()).await;
    let made = make(&access, "enf-del-", json!({})).await;
    let (link, id, key) = (&made.link, made.id.as_str(), &made.key);
    let iam = access.iam(&account(TRUSTING)).await.unwrap();
    trust_link::link::delete_role_fully(&iam, &link.role)
        .await
        .unwrap();
    made.consumer(&base)
        .refused("gone", &Presented::id(id), "a deleted role")
        .await;
    // The key itself still works: the denial is the role's.
    assert_eq!(
        whoami(&base, key_credentials(key)).await.unwrap(),
        link.principal
    );
    assert_logs_clean(&logs);
}

#[tokio::test]
async fn an_mfa_gated_link_needs_a_valid_code_from_the_users_device() {
    let logs = capture_logs();
    let (access, recorder) = recorded_access(Function::TrustLink).await;
    let base = fakecloud::config_with(base_creds()).await;
    // trust-link takes its gated path (it cannot present MFA itself): it does not try the
    // link's role over and over (each retry would be one more AssumeRole, after a sleep).
    let made = make(
        &access,
        "enf-mfa-",
        json!({"Conditions": {"RequireMfa": true}}),
    )
    .await;
    let sts = sts_calls(&recorder, &made.link.role_arn);
    assert_eq!(
        sts.link_assumes, 0,
        "trust-link assumed the MFA-gated link's role (its gated path makes no probe)"
    );
    assert!(
        sts.all <= GATED_STS_CALLS,
        "trust-link sent {} STS calls",
        sts.all
    );
    let (link, id, consumer) = (&made.link, made.id.as_str(), made.consumer(&base));
    let user = link.user.clone().unwrap();

    // Without MFA: out, even with the right external ID.
    consumer
        .refused("nomfa", &Presented::id(id), "without MFA")
        .await;

    let admin = fakecloud::member_admin_config(TRUSTED).await;
    let (serial, seed) = virtual_mfa_device(&admin, &user).await;
    let with_code = |code: String| Presented {
        external_id: Some(id.to_string()),
        mfa: Some((serial.clone(), code)),
    };
    // A wrong code: out.
    let good = totp(&seed, unix_now()).unwrap();
    let wrong = format!(
        "{:06}",
        (good.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    consumer
        .refused("badcode", &with_code(wrong), "a wrong code")
        .await;
    // The device's current code: in.
    let me = consumer
        .assume("mfa", &with_code(totp(&seed, unix_now()).unwrap()))
        .await
        .unwrap_or_else(|d| panic!("a valid MFA code is refused: {d}"));
    assert_eq!(me, session_arn(link, "mfa"));
    // Valid code, no external ID: out.
    let code_only = Presented {
        external_id: None,
        mfa: Some((serial.clone(), totp(&seed, unix_now()).unwrap())),
    };
    consumer
        .refused("mfanoid", &code_only, "MFA without the ID")
        .await;

    // The rotator takes its gated path too, without a stall, and the link stays usable with
    // the new ID and key plus MFA.
    let (rotator_access, rotator_recorder) = recorded_access(Function::Rotator).await;
    let r = rotator::Rotator::new(
        rotator_access,
        std::sync::Arc::new(rotator::OffsetClock::default()),
        rotator::Limits {
            concurrency: 2,
            verify_attempts: 5,
            verify_delay: Duration::from_millis(100),
        },
    );
    let report = rotator::handle(&r, &json!({"Force": true, "Links": [link.name]}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Its probe attempts are AssumeRoles on the link's role: the gated path makes none.
    let sts = sts_calls(&rotator_recorder, &link.role_arn);
    assert_eq!(
        sts.link_assumes, 0,
        "the rotator assumed the MFA-gated link's role (its gated path makes no probe)"
    );
    assert!(
        sts.all <= GATED_STS_CALLS,
        "the rotator sent {} STS calls",
        sts.all
    );
    assert_eq!(
        report["links"][0]["external_id"]["action"], "rotated",
        "{report:#}"
    );
    assert_eq!(
        report["links"][0]["access_key"]["action"], "rotated",
        "{report:#}"
    );
    let (new_id, new_key) = read_current(&access, link).await.unwrap();
    remember_secret(&new_id);
    crate_remember(&new_key);
    let rotated = Consumer {
        key: &new_key,
        ..consumer
    };
    let me = rotated
        .assume(
            "mfa2",
            &Presented {
                external_id: Some(new_id.clone()),
                mfa: Some((serial.clone(), totp(&seed, unix_now()).unwrap())),
            },
        )
        .await
        .unwrap_or_else(|d| panic!("the rotated link refuses its new ID and key with MFA: {d}"));
    assert_eq!(me, session_arn(link, "mfa2"));
    rotated
        .refused(
            "nomfa2",
            &Presented::id(&new_id),
            "the rotation dropped the MFA condition",
        )
        .await;
    assert_logs_clean(&logs);
}

/// fakecloud 0.51.0 does not put `aws:SourceIp` in the context of the AssumeRole trust
/// evaluation (docs/fakecloud.md), so an `IpAddress` condition never matches there: the
/// denial from an outside CIDR proves nothing on its own. This test shows the gap instead of
/// passing over it: the allowed half is checked on a fakecloud that supplies the key, and
/// until then the test asserts the gap, so that it fails (and must be flipped) the day
/// fakecloud starts evaluating it.
#[tokio::test]
async fn a_source_ip_gated_link() {
    let logs = capture_logs();
    let access = fakecloud::access(Function::TrustLink).await;
    let base = fakecloud::config_with(base_creds()).await;
    let inside = make(
        &access,
        "enf-ip-in-",
        json!({"Conditions": {"SourceIpCidrs": ["127.0.0.0/8"]}}),
    )
    .await;
    let outside = make(
        &access,
        "enf-ip-out-",
        json!({"Conditions": {"SourceIpCidrs": ["203.0.113.0/24"]}}),
    )
    .await;
    outside
        .consumer(&base)
        .refused(
            "outside",
            &Presented::id(&outside.id),
            "from 127.0.0.1, a link that admits only 203.0.113.0/24",
        )
        .await;

    let r = inside
        .consumer(&base)
        .assume("inside", &Presented::id(&inside.id))
        .await;
    if fakecloud_evaluates_source_ip() {
        let me =
            r.unwrap_or_else(|d| panic!("from 127.0.0.1, a link that admits 127.0.0.0/8: {d}"));
        assert_eq!(me, session_arn(&inside.link, "inside"));
    } else {
        assert_eq!(
            r.map_err(|d| d.code),
            Err("AccessDenied".into()),
            "fakecloud {} now admits a source-IP-gated AssumeRole: set \
             fakecloud_evaluates_source_ip() to true and update docs/fakecloud.md",
            fakecloud::VERSION
        );
    }
    // Either way trust-link and the rotator did not need the consumer's address.
    let key = current_key(&access, &inside.link).await;
    assert_eq!(
        access
            .sts_as(&credentials(&key))
            .caller_identity()
            .await
            .unwrap()
            .arn,
        inside.link.principal
    );
    assert_logs_clean(&logs);
}

/// Whether the pinned fakecloud gives AssumeRole's trust evaluation `aws:SourceIp`.
fn fakecloud_evaluates_source_ip() -> bool {
    false
}

fn flip_last(id: &str) -> String {
    let mut s: Vec<char> = id.chars().collect();
    let last = s.last_mut().unwrap();
    *last = if *last == 'A' { 'B' } else { 'A' };
    s.into_iter().collect()
}

fn crate_remember(key: &trustlink_domain::record::AccessKeySecret) {
    remember_secret(key.secret_access_key.expose());
}
