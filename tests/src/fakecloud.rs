//! fakecloud: the second local AWS, the one that evaluates trust policies.
//!
//! moto accepts every `sts:AssumeRole`. fakecloud (pinned below; installed by `make setup`
//! into `~/.cache/trustlink/fakecloud-<version>`, see `tools/setup_fakecloud.sh`) evaluates the
//! role's trust policy on every AssumeRole: principal, external ID, MFA (a real TOTP check
//! against a virtual MFA device), and it refuses deactivated keys. So the enforcement tests
//! run here, and only here.
//!
//! One server per test binary, on a free loopback port, started the first time a test asks
//! for it. It runs under a small `sh` wrapper that reads this process's end of a pipe: when
//! this process ends in any way (even SIGKILL) the pipe closes and the wrapper stops the
//! server, so nothing outlives the test binary.
//!
//! The accounts are set up the way the real deployment is:
//! - the hub has the two function roles, `role/trustlink-service/trustlink-trust-link-<region>`
//!   and `...-rotator-<region>`; the tests act as them through sessions of those roles, as the
//!   functions do in Lambda (a hub bootstrap user stands in for the Lambda service, which is
//!   what may assume them on AWS);
//! - each member account has `TrustLinkAdmin` with the trust policy of
//!   `infra/member-account.yaml`: the hub account, only its two function roles.
//!
//! Where fakecloud differs from AWS in a way that matters here: `docs/fakecloud.md`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use serde_json::{json, Value};
use trustlink_aws::AccountAccess;

use crate::links::{TRUSTED, TRUSTING};
use crate::{HUB_ACCOUNT, REGION};

/// The pinned version; `tools/setup_fakecloud.sh` installs the same one.
pub const VERSION: &str = "0.51.0";

/// The hub user that stands in for the Lambda service (it may assume the function roles).
pub const HUB_BOOTSTRAP_USER: &str = "trustlink-hub-bootstrap";
/// The user `/_fakecloud/iam/create-admin` makes in a member account to provision it, as
/// StackSets' execution role would.
pub const MEMBER_BOOTSTRAP_USER: &str = "trustlink-stackset-bootstrap";

/// The cache `make setup` installs into: `TRUSTLINK_CACHE`, else `~/.cache/trustlink`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRUSTLINK_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    base.join("trustlink")
}

/// The fakecloud binary: `TRUSTLINK_FAKECLOUD`, else the pinned install in the cache, which
/// must carry the stamp `make setup` writes after a complete install.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("TRUSTLINK_FAKECLOUD") {
        return PathBuf::from(bin);
    }
    let root = cache_dir().join(format!("fakecloud-{VERSION}"));
    let stamp = std::fs::read_to_string(root.join(".installed")).unwrap_or_default();
    assert!(
        stamp.trim() == VERSION,
        "fakecloud {VERSION} is not installed in {} (no install stamp).\n\
         Run `make setup`: it builds it once per machine (tens of minutes the first time) and \
         resumes an interrupted build.",
        root.display()
    );
    root.join("bin/fakecloud")
}

/// A fakecloud server owned by this process; see the module comment for how it stops.
pub struct FakeCloud {
    wrapper: Child,
    pub port: u16,
    pub log: PathBuf,
}

/// Starts `$1 $2...` in the background and stops it when our stdin (fd 3 here) reaches end
/// of file; exits when the server does.
const WRAPPER: &str = r#"exec 3<&0
"$@" </dev/null &
server=$!
{ cat <&3 >/dev/null; kill "$server" 2>/dev/null; } &
wait "$server"
"#;

impl FakeCloud {
    pub fn start() -> FakeCloud {
        let bin = binary();
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "trustlink-fakecloud-{}-{port}.log",
                std::process::id()
            ));
            let out = std::fs::File::create(&log).expect("fakecloud log file");
            let mut wrapper = Command::new("sh")
                .arg("-c")
                .arg(WRAPPER)
                .arg("fakecloud-wrapper")
                .arg(&bin)
                .arg("--addr")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--region")
                .arg(REGION)
                .arg("--account-id")
                .arg(HUB_ACCOUNT)
                // Signatures are checked, so an unknown, wrong or deactivated key is refused
                // (InvalidClientTokenId) instead of acting as the default account.
                .arg("--verify-sigv4")
                .arg("--log-level")
                .arg("warn")
                .stdin(Stdio::piped())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = wrapper.try_wait() {
                    last_log = std::fs::read_to_string(&log).unwrap_or_default();
                    eprintln!("fakecloud on port {port} exited ({status}); retrying");
                    break;
                }
                if let Ok((200, _)) = http(port, "GET", "/_fakecloud/health", None) {
                    return FakeCloud { wrapper, port, log };
                }
                if Instant::now() > deadline {
                    drop(wrapper.stdin.take());
                    let _ = wrapper.kill();
                    let _ = wrapper.wait();
                    panic!(
                        "fakecloud did not answer /_fakecloud/health within 60 s; log: {}",
                        log.display()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("fakecloud did not start; last log:\n{last_log}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.wrapper.id()
    }

    /// `/_fakecloud/iam/create-admin`: a user with an access key and an allow-all inline
    /// policy in `account` (created on first use). The only way into an account other than
    /// the default one without going through AssumeRole; used only to provision, never by
    /// the code under test. Cached: a second call would replace the user's key.
    pub fn admin_credentials(&self, account: &str, user: &str) -> Credentials {
        type Admins = HashMap<(String, String), (String, String)>;
        static ADMINS: OnceLock<Mutex<Admins>> = OnceLock::new();
        let mut admins = ADMINS.get_or_init(Default::default).lock().unwrap();
        let (id, secret) = admins
            .entry((account.to_string(), user.to_string()))
            .or_insert_with(|| {
                let body = json!({"accountId": account, "userName": user}).to_string();
                let (status, text) = http(
                    self.port,
                    "POST",
                    "/_fakecloud/iam/create-admin",
                    Some(&body),
                )
                .expect("fakecloud create-admin");
                assert_eq!(status, 200, "create-admin in {account}: {text}");
                let v: Value = serde_json::from_str(&text).expect("create-admin answers JSON");
                let id = v["accessKeyId"].as_str().expect("accessKeyId").to_string();
                let secret = v["secretAccessKey"]
                    .as_str()
                    .expect("secretAccessKey")
                    .to_string();
                crate::remember_secret(&secret);
                (id, secret)
            })
            .clone();
        Credentials::new(id, secret, None, None, "fakecloud-create-admin")
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        // Closing the pipe is the stop; kill is the backstop for the wrapper itself.
        drop(self.wrapper.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.wrapper.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.wrapper.kill();
        let _ = self.wrapper.wait();
    }
}

/// One server per test binary, shared by its tests (they use distinct names).
pub fn fakecloud() -> &'static FakeCloud {
    static SERVER: OnceLock<FakeCloud> = OnceLock::new();
    SERVER.get_or_init(FakeCloud::start)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A minimal HTTP/1.1 exchange with fakecloud's own (non-AWS) endpoints.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Chunked bodies: fakecloud's JSON answers are small; take the JSON part.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a < b => body[a..=b].to_string(),
        _ => body,
    };
    Ok((status, body))
}

/// SDK configuration for fakecloud with these credentials. Built per call: a configuration
/// holds an HTTP client tied to the test's runtime.
pub async fn config_with(credentials: Credentials) -> SdkConfig {
    trustlink_aws::config::loader()
        .endpoint_url(fakecloud().endpoint())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .load()
        .await
}

/// A hub function, by the role it runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    TrustLink,
    Rotator,
}

impl Function {
    pub fn role_name(self) -> String {
        match self {
            Function::TrustLink => format!("trustlink-trust-link-{REGION}"),
            Function::Rotator => format!("trustlink-rotator-{REGION}"),
        }
    }

    /// The role's ARN, as `infra/template.yaml` names it.
    pub fn role_arn(self) -> String {
        format!(
            "arn:aws:iam::{HUB_ACCOUNT}:role/trustlink-service/{}",
            self.role_name()
        )
    }
}

/// The hub bootstrap user (stands in for the Lambda service).
pub async fn hub_bootstrap_config() -> SdkConfig {
    config_with(fakecloud().admin_credentials(HUB_ACCOUNT, HUB_BOOTSTRAP_USER)).await
}

async fn ensure_function_roles() {
    static DONE: OnceLock<tokio::sync::Mutex<bool>> = OnceLock::new();
    let mut done = DONE.get_or_init(Default::default).lock().await;
    if *done {
        return;
    }
    let iam = aws_sdk_iam::Client::new(&hub_bootstrap_config().await);
    let bootstrap_arn = format!("arn:aws:iam::{HUB_ACCOUNT}:user/{HUB_BOOTSTRAP_USER}");
    // On AWS the principal is the Lambda service (lambda.amazonaws.com); fakecloud has no
    // Lambda invoking the functions here, so the bootstrap user plays it.
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": bootstrap_arn}, "Action": "sts:AssumeRole"}]});
    for f in [Function::TrustLink, Function::Rotator] {
        match iam
            .create_role()
            .role_name(f.role_name())
            .path("/trustlink-service/")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
        {
            Ok(out) => assert_eq!(out.role().map(|r| r.arn()), Some(f.role_arn().as_str())),
            Err(e) => panic!(
                "creating the hub role {}: {}",
                f.role_name(),
                aws_sdk_iam::error::DisplayErrorContext(&e)
            ),
        }
    }
    *done = true;
}

/// The configuration a hub function runs with: sessions of its role, refreshed before they
/// expire (as in Lambda).
pub async fn function_config(function: Function) -> SdkConfig {
    ensure_function_roles().await;
    let base = hub_bootstrap_config().await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(function.role_arn())
        .session_name(match function {
            Function::TrustLink => "trust-link",
            Function::Rotator => "rotator",
        })
        .configure(&base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The trust policy of `TrustLinkAdmin` as `infra/member-account.yaml` writes it for this hub,
/// plus the session-ARN form of the same two roles: fakecloud 0.51.0 gives `aws:PrincipalArn`
/// the session's ARN (`arn:aws:sts::<hub>:assumed-role/<name>/<session>`) where AWS gives the
/// role's ARN (docs/fakecloud.md). Only those two roles of the hub either way.
pub fn member_admin_trust_policy() -> Value {
    let mut principals: Vec<String> = [Function::TrustLink, Function::Rotator]
        .iter()
        .map(|f| f.role_arn())
        .collect();
    principals.extend([Function::TrustLink, Function::Rotator].iter().map(|f| {
        format!(
            "arn:aws:sts::{HUB_ACCOUNT}:assumed-role/{}/*",
            f.role_name()
        )
    }));
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TrustLinkHubFunctionsOnly",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{HUB_ACCOUNT}:root")},
        "Action": "sts:AssumeRole",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": principals}}
    }]})
}

/// Provisions a member account as `infra/member-account.yaml` does: `TrustLinkAdmin` at path
/// `/`, trusting only the hub's two function roles. Once per account and test binary.
pub async fn bootstrap_member_account(account: &str) {
    static DONE: OnceLock<tokio::sync::Mutex<Vec<String>>> = OnceLock::new();
    let mut done = DONE.get_or_init(Default::default).lock().await;
    if done.iter().any(|a| a == account) {
        return;
    }
    let admin = config_with(fakecloud().admin_credentials(account, MEMBER_BOOTSTRAP_USER)).await;
    let iam = aws_sdk_iam::Client::new(&admin);
    let out = iam
        .create_role()
        .role_name(trustlink_aws::DEFAULT_ADMIN_ROLE_NAME)
        .path("/")
        .description("Assumed by the trustlink hub functions only")
        .max_session_duration(3600)
        .assume_role_policy_document(member_admin_trust_policy().to_string())
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("trustlink:component")
                .value("member-admin")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "bootstrap {account}: {}",
                aws_sdk_iam::error::DisplayErrorContext(&e)
            )
        });
    assert_eq!(
        out.role().map(|r| r.arn().to_string()),
        Some(format!(
            "arn:aws:iam::{account}:role/{}",
            trustlink_aws::DEFAULT_ADMIN_ROLE_NAME
        )),
        "the admin role landed in the wrong account"
    );
    done.push(account.to_string());
}

/// What a hub function works with: its role's sessions in the hub, `TrustLinkAdmin` in the
/// member accounts (both provisioned).
pub async fn access(function: Function) -> AccountAccess {
    bootstrap_member_account(TRUSTING).await;
    bootstrap_member_account(TRUSTED).await;
    AccountAccess::new(
        function_config(function).await,
        trustlink_aws::DEFAULT_ADMIN_ROLE_NAME,
    )
}

/// The member account's provisioning user, for the tests' own setup there (MFA devices,
/// other principals): never what the code under test uses.
pub async fn member_admin_config(account: &str) -> SdkConfig {
    config_with(fakecloud().admin_credentials(account, MEMBER_BOOTSTRAP_USER)).await
}

/// Environment for a function process (cargo lambda, the demo) pointed at fakecloud as
/// `function`. The session lasts an hour.
pub async fn function_env(function: Function) -> Vec<(String, String)> {
    use aws_credential_types::provider::ProvideCredentials;
    let config = function_config(function).await;
    let creds = config
        .credentials_provider()
        .expect("a credentials provider")
        .provide_credentials()
        .await
        .expect("a session of the function role");
    let mut env = vec![
        ("AWS_ENDPOINT_URL".into(), fakecloud().endpoint()),
        ("AWS_REGION".into(), REGION.into()),
        ("AWS_DEFAULT_REGION".into(), REGION.into()),
        (
            "AWS_ACCESS_KEY_ID".into(),
            creds.access_key_id().to_string(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            creds.secret_access_key().to_string(),
        ),
    ];
    if let Some(token) = creds.session_token() {
        env.push(("AWS_SESSION_TOKEN".into(), token.to_string()));
    }
    env
}
