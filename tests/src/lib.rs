//! The local AWS stack for integration tests: a moto server per test binary on a free
//! loopback port, SDK configurations pointed at it, and a log capture to scan for secrets.
//!
//! Two backends ([`Backend`]): moto (the functions above: fast, Python, accepts every
//! AssumeRole) and fakecloud ([`fakecloud`]: evaluates trust policies; the enforcement tests
//! run only there).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::{Region, SdkConfig};

pub mod binaries;
pub mod cfn;
pub mod enforce;
pub mod fakecloud;
pub mod faults;
pub mod fixtures;
pub mod function;
pub mod http;
pub mod lambda_api;
pub mod latency;
pub mod links;
pub mod recorder;
pub mod resource;
pub mod rotator_support;
pub mod throttle;
use aws_credential_types::Credentials;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

pub const HUB_ACCOUNT: &str = "123456789012";
pub const MEMBER_ACCOUNT: &str = "111111111111";
pub const REGION: &str = "us-east-1";

/// The workspace root, for the virtualenv and the tools.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The Python that has moto: `TRUSTLINK_PYTHON`, else the project's `.venv`.
pub fn python() -> PathBuf {
    let python = std::env::var_os("TRUSTLINK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "the local AWS stack is not installed: {} is missing.\n\
         Run `make setup` (installs moto and the other tools from tools/requirements.txt into .venv).",
        python.display()
    );
    python
}

/// A moto server owned by this process. It reads its stdin until end of file, so it stops
/// when this value is dropped or when this process dies in any way: no leftover process.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let mut child = Command::new(python())
            .arg(workspace_root().join("tools/moto_server.py"))
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start tools/moto_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading moto's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("moto did not report a port (got {line:?}); is moto[server] installed? Run `make setup`.")
        });
        Moto { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin is the orderly stop; kill is the backstop.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server per test binary, shared by its tests (they use distinct names).
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

/// The hub account's configuration, as the functions would load it in Lambda.
pub async fn hub_config() -> SdkConfig {
    config_with(Credentials::new("testing", "testing", None, None, "tests")).await
}

pub async fn config_with(credentials: Credentials) -> SdkConfig {
    trustlink_aws::config::loader()
        .endpoint_url(moto().endpoint())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .load()
        .await
}

/// Environment for a function process (cargo lambda, the demo) pointed at this server.
pub fn function_env() -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), moto().endpoint()),
        ("AWS_REGION".into(), REGION.into()),
        // The AWS CLI v1 reads only this one.
        ("AWS_DEFAULT_REGION".into(), REGION.into()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
    ]
}

/// Everything logged through `tracing` in this process at the most verbose setting an
/// operator can choose (`RUST_LOG=trace`, with the functions' own caps on the SDK and HTTP
/// crates), kept to be scanned for secrets.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capture as this process's subscriber (once) and returns it.
pub fn capture_logs() -> LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = LogCapture::default();
            let writer = capture.clone();
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_filter(trustlink_aws::logging::filter("trace"));
            tracing_subscriber::registry().with(layer).init();
            capture
        })
        .clone()
}

/// Fails if any of `secrets` appears in `haystack` (logs, error texts, responses).
pub fn assert_no_secret_in(what: &str, haystack: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            secret.len() >= 8,
            "too short to scan for meaningfully: {secret:?}"
        );
    }
    // One pass for all secrets: a suite's logs run to hundreds of megabytes and its secrets
    // to hundreds, too many for one `contains` per secret.
    let mut unique: Vec<&str> = secrets.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let scanner = aho_corasick::AhoCorasick::new(&unique).expect("the secrets form a scanner");
    if let Some(found) = scanner.find(haystack) {
        let secret = unique[found.pattern().as_usize()];
        let shown: String = secret.chars().take(4).collect();
        panic!("a secret ({shown}...) appears in {what}");
    }
}

/// A name unique to this test run, so tests sharing a server do not collide.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Provisions the admin role of a member account as `infra/member-account.yaml` would:
/// `TrustLinkAdmin`, trusting the hub account. moto lets the hub assume it to get there.
pub async fn bootstrap_member_account(account: &str) {
    use trustlink_aws::ports::{Roles, Sts};
    static DONE: OnceLock<tokio::sync::Mutex<Vec<String>>> = OnceLock::new();
    let mut done = DONE.get_or_init(Default::default).lock().await;
    if done.iter().any(|a| a == account) {
        return;
    }
    let hub = hub_config().await;
    let sts = trustlink_aws::StsAdapter::new(aws_sdk_sts_client(&hub));
    let role_arn = format!(
        "arn:aws:iam::{account}:role/{}",
        trustlink_aws::DEFAULT_ADMIN_ROLE_NAME
    );
    let creds = sts
        .assume_role(&role_arn, "bootstrap", None)
        .await
        .expect("assume into the member account");
    let member = config_with(Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_string(),
        creds.session_token.as_ref().map(|t| t.expose().to_string()),
        None,
        "bootstrap",
    ))
    .await;
    let iam = trustlink_aws::IamAdapter::new(aws_sdk_iam_client(&member));
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{HUB_ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
    let role = trustlink_aws::ports::RoleDefinition {
        name: trustlink_aws::DEFAULT_ADMIN_ROLE_NAME.into(),
        path: "/".into(),
        description: Some("trustlink admin role".into()),
        max_session_duration: None,
        trust_policy: trust,
        permissions_boundary: None,
        tags: Default::default(),
    };
    match iam.create_role(&role).await {
        Ok(info) => assert_eq!(
            info.arn, role_arn,
            "the admin role landed in the wrong account"
        ),
        Err(e) if e.is_already_exists() => {}
        Err(e) => panic!("bootstrap {account}: {e}"),
    }
    done.push(account.to_string());
}

pub fn aws_sdk_iam_client(config: &SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(config)
}

pub fn aws_sdk_sts_client(config: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(config)
}

/// Secrets the suite has produced, scanned for in everything logged.
pub fn remember_secret(secret: &str) {
    secrets_seen().lock().unwrap().push(secret.to_string());
}

fn secrets_seen() -> &'static Mutex<Vec<String>> {
    static SEEN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// Scans every line logged in this process so far for every secret produced so far, and for
/// the ResponseURL signature. Each test calls it last, so the last test to finish has scanned
/// what the whole suite logged.
pub fn assert_logs_clean(logs: &LogCapture) {
    let text = logs.text();
    assert!(
        !text.is_empty(),
        "the log capture saw nothing: it is not working"
    );
    let seen = secrets_seen().lock().unwrap().clone();
    let mut all: Vec<&str> = seen.iter().map(String::as_str).collect();
    all.push(cfn::URL_SIGNATURE);
    assert_no_secret_in("the logs", &text, &all);
}

/// The local AWS a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// moto: every `sts:AssumeRole` is granted, whatever the trust policy says.
    Moto,
    /// fakecloud: the trust policy decides (principal, external ID, MFA); see
    /// docs/fakecloud.md for where it still differs from AWS.
    FakeCloud,
}

impl Backend {
    /// `TRUSTLINK_BACKEND`: `moto` (the default) or `fakecloud`.
    pub fn from_env() -> Backend {
        match std::env::var("TRUSTLINK_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("moto") => Backend::Moto,
            Ok("fakecloud") => Backend::FakeCloud,
            Ok(other) => panic!("TRUSTLINK_BACKEND={other}: expected moto or fakecloud"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Moto => "moto",
            Backend::FakeCloud => "fakecloud",
        }
    }

    /// Whether `sts:AssumeRole` is decided by the role's trust policy. Where it is not, a
    /// test can only read the policy back, and must say so rather than pass.
    pub fn evaluates_trust_policies(self) -> bool {
        self == Backend::FakeCloud
    }

    pub fn endpoint(self) -> String {
        match self {
            Backend::Moto => moto().endpoint(),
            Backend::FakeCloud => fakecloud::fakecloud().endpoint(),
        }
    }

    pub async fn config_with(self, credentials: Credentials) -> SdkConfig {
        match self {
            Backend::Moto => config_with(credentials).await,
            Backend::FakeCloud => fakecloud::config_with(credentials).await,
        }
    }

    /// The hub as the trust-link function runs in it.
    pub async fn hub_config(self) -> SdkConfig {
        match self {
            Backend::Moto => hub_config().await,
            Backend::FakeCloud => fakecloud::function_config(fakecloud::Function::TrustLink).await,
        }
    }

    pub async fn bootstrap_member_account(self, account: &str) {
        match self {
            Backend::Moto => bootstrap_member_account(account).await,
            Backend::FakeCloud => fakecloud::bootstrap_member_account(account).await,
        }
    }

    /// What the functions work with, the member accounts provisioned (as `links::access`).
    pub async fn access(self) -> trustlink_aws::AccountAccess {
        match self {
            Backend::Moto => links::access().await,
            Backend::FakeCloud => fakecloud::access(fakecloud::Function::TrustLink).await,
        }
    }

    /// Environment for a function process pointed at this backend.
    pub async fn function_env(self) -> Vec<(String, String)> {
        match self {
            Backend::Moto => function_env(),
            Backend::FakeCloud => fakecloud::function_env(fakecloud::Function::TrustLink).await,
        }
    }
}
