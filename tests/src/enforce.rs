//! Helpers of the enforcement tests (fakecloud only): the consumer's side of a link as AWS
//! decides it, a consumer loop that never stops using the link, links with conditions made by
//! the real trust-link code, and virtual MFA devices with TOTP codes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::error::ProvideErrorMetadata;
use serde_json::Value;
use trust_link::{LinkService, VerifyBounds};
use trustlink_aws::ports::{Secrets, AWSCURRENT};
use trustlink_aws::AccountAccess;
use trustlink_domain::record::{self, AccessKeySecret, ExternalIdSecret};
use trustlink_domain::{LinkSpec, Settings};

use crate::links::{Link, TRUSTED, TRUSTING};

/// What the consumer presents besides its key.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    pub external_id: Option<String>,
    /// MFA serial number and token code.
    pub mfa: Option<(String, String)>,
}

impl Presented {
    pub fn id(id: &str) -> Self {
        Self {
            external_id: Some(id.to_string()),
            mfa: None,
        }
    }
}

/// An AWS answer, reduced to what the tests compare: the error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn denied<E: ProvideErrorMetadata>(e: &E) -> Denied {
    Denied {
        code: e.code().unwrap_or("(no code)").to_string(),
        message: e.message().unwrap_or_default().to_string(),
    }
}

/// `base` with these static credentials (cheap: shares `base`'s HTTP client).
pub fn with_credentials(base: &SdkConfig, creds: aws_credential_types::Credentials) -> SdkConfig {
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds))
        .build()
}

pub fn key_credentials(key: &AccessKeySecret) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        key.access_key_id.clone(),
        key.secret_access_key.expose().to_string(),
        None,
        None,
        "link-key",
    )
}

/// `sts:AssumeRole` as `caller`, then `GetCallerIdentity` with the session: the ARN STS says
/// the session is, or why it was refused.
pub async fn assume(
    base: &SdkConfig,
    caller: aws_credential_types::Credentials,
    role_arn: &str,
    session: &str,
    presented: &Presented,
) -> Result<String, Denied> {
    let sts = aws_sdk_sts::Client::new(&with_credentials(base, caller));
    let mut req = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session);
    if let Some(id) = &presented.external_id {
        req = req.external_id(id);
    }
    if let Some((serial, code)) = &presented.mfa {
        req = req.serial_number(serial).token_code(code);
    }
    let out = req.send().await.map_err(|e| denied(&e))?;
    let c = out.credentials().expect("AssumeRole returns credentials");
    crate::remember_secret(c.secret_access_key());
    let session_creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    let me = aws_sdk_sts::Client::new(&with_credentials(base, session_creds))
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| denied(&e))?;
    Ok(me.arn().unwrap_or_default().to_string())
}

/// `GetCallerIdentity` with a key: whether STS accepts the key at all.
pub async fn whoami(
    base: &SdkConfig,
    caller: aws_credential_types::Credentials,
) -> Result<String, Denied> {
    aws_sdk_sts::Client::new(&with_credentials(base, caller))
        .get_caller_identity()
        .send()
        .await
        .map(|me| me.arn().unwrap_or_default().to_string())
        .map_err(|e| denied(&e))
}

/// The ARN of a session of the link's role.
pub fn session_arn(link: &Link, session: &str) -> String {
    format!(
        "arn:aws:sts::{TRUSTING}:assumed-role/{}/{session}",
        link.role
    )
}

/// Creates a link with the real trust-link code, with a managed user and key, and `extra`
/// properties merged in (`Conditions`, `Rotation`).
pub async fn create_link_with(access: &AccountAccess, prefix: &str, extra: Value) -> Link {
    let name = crate::unique(prefix);
    let user = crate::unique("EnfUser");
    let principal = format!("arn:aws:iam::{TRUSTED}:user/{user}");
    let mut props = serde_json::json!({
        "LinkName": name, "TrustingAccount": TRUSTING, "TrustedPrincipal": principal,
        "Role": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
        "TrustedSide": {"Grant": true, "CreateUser": true, "AccessKey": true},
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        props[k] = v;
    }
    let spec = LinkSpec::from_properties(&props).unwrap();
    // Boxed: the handler's future is deep; callers' futures stay small.
    let out = Box::pin(service(access).create(&spec))
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
    crate::remember_secret(out.external_id.expose());
    Link {
        role: out.role_name.clone(),
        name,
        role_arn: out.role_arn,
        user: Some(user),
        principal,
    }
}

pub fn service(access: &AccountAccess) -> LinkService<AccountAccess> {
    LinkService::new(
        access.clone(),
        Settings::default(),
        VerifyBounds {
            attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
        },
    )
}

/// The link's AWSCURRENT external ID and key, as a consumer reads them.
pub async fn read_current(
    access: &AccountAccess,
    link: &Link,
) -> Result<(String, AccessKeySecret), String> {
    let secrets = access.secrets();
    let id = secrets
        .get_secret_value(&record::external_id_secret_name(&link.name), AWSCURRENT)
        .await
        .map_err(|e| format!("reading the external ID: {e}"))?;
    let id = ExternalIdSecret::parse(&id.text)
        .map_err(|e| e.to_string())?
        .external_id
        .expose()
        .to_string();
    let key = secrets
        .get_secret_value(&record::access_key_secret_name(&link.name), AWSCURRENT)
        .await
        .map_err(|e| format!("reading the key: {e}"))?;
    let key = AccessKeySecret::parse(&key.text).map_err(|e| e.to_string())?;
    Ok((id, key))
}

/// What a consumer loop saw.
#[derive(Debug, Default, Clone)]
pub struct ConsumerReport {
    pub iterations: u64,
    pub assumed: u64,
    /// Every refusal, with the key ID that was refused (never a secret).
    pub denials: Vec<String>,
    pub read_errors: Vec<String>,
    /// Distinct (external ID, key ID) pairs the consumer used, in order.
    pub generations: u64,
}

/// A consumer that, every 50 ms, reads the link's AWSCURRENT external ID and key and
/// assumes the role with them, as the README tells consumers to.
pub struct Consumer {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    report: Arc<Mutex<ConsumerReport>>,
    task: tokio::task::JoinHandle<()>,
}

impl Consumer {
    pub fn start(access: AccountAccess, base: SdkConfig, link: Link) -> Consumer {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let report = Arc::new(Mutex::new(ConsumerReport::default()));
        let task = tokio::spawn({
            let (stop, done, report) = (stop.clone(), done.clone(), report.clone());
            async move {
                let mut last: Option<(String, String)> = None;
                while !stop.load(Ordering::SeqCst) {
                    let started = tokio::time::Instant::now();
                    match read_current(&access, &link).await {
                        Err(e) => report.lock().unwrap().read_errors.push(e),
                        Ok((id, key)) => {
                            let generation = (id.clone(), key.access_key_id.clone());
                            if last.as_ref() != Some(&generation) {
                                crate::remember_secret(&id);
                                crate::remember_secret(key.secret_access_key.expose());
                                report.lock().unwrap().generations += 1;
                                last = Some(generation);
                            }
                            let r = assume(
                                &base,
                                key_credentials(&key),
                                &link.role_arn,
                                "consumer",
                                &Presented::id(&id),
                            )
                            .await;
                            let mut rep = report.lock().unwrap();
                            match r {
                                Ok(arn) if arn == session_arn(&link, "consumer") => {
                                    rep.assumed += 1
                                }
                                Ok(arn) => rep.denials.push(format!("assumed as {arn}")),
                                Err(d) => {
                                    rep.denials.push(format!("key {}: {d}", key.access_key_id))
                                }
                            }
                        }
                    }
                    report.lock().unwrap().iterations += 1;
                    done.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep_until(started + Duration::from_millis(50)).await;
                }
            }
        });
        Consumer {
            stop,
            done,
            report,
            task,
        }
    }

    /// Waits until two iterations that began after this call have finished: every consumer
    /// has re-read AWSCURRENT since the last change. This is what a grace period is for; the
    /// tests' clock jumps a day in a millisecond, the consumer's does not.
    pub async fn settle(&self) {
        let target = self.done.load(Ordering::SeqCst) + 2;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.done.load(Ordering::SeqCst) < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the consumer loop is stuck"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn report(&self) -> ConsumerReport {
        self.report.lock().unwrap().clone()
    }

    pub async fn stop(self) -> ConsumerReport {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("the consumer loop panicked");
        self.report.lock().unwrap().clone()
    }
}

/// A virtual MFA device assigned to `user` of the trusted account: its serial number and
/// base32 seed. Created and enabled with two consecutive codes, as an authenticator app would.
pub async fn virtual_mfa_device(admin: &SdkConfig, user: &str) -> (String, String) {
    let iam = aws_sdk_iam::Client::new(admin);
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", aws_sdk_iam::error::DisplayErrorContext(&e)));
    let device = device.virtual_mfa_device().expect("a device");
    let serial = device.serial_number().to_string();
    let seed = String::from_utf8(
        device
            .base32_string_seed()
            .expect("a virtual device has a seed")
            .as_ref()
            .to_vec(),
    )
    .expect("the seed is base32 text");
    let now = unix_now();
    iam.enable_mfa_device()
        .user_name(user)
        .serial_number(&serial)
        .authentication_code1(totp(&seed, now - 30).unwrap())
        .authentication_code2(totp(&seed, now).unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", aws_sdk_iam::error::DisplayErrorContext(&e)));
    crate::remember_secret(&seed);
    (serial, seed)
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The RFC 6238 code (6 digits, 30-second steps, HMAC-SHA1) of a base32 seed at `unix_time`.
pub fn totp(base32_seed: &str, unix_time: u64) -> Option<String> {
    let key = base32_decode(base32_seed)?;
    Some(hotp(&key, unix_time / 30))
}

/// RFC 4226.
pub fn hotp(key: &[u8], counter: u64) -> String {
    let mac = hmac_sha1(key, &counter.to_be_bytes());
    let offset = (mac[19] & 0x0f) as usize;
    let binary = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    format!("{:06}", binary % 1_000_000)
}

/// RFC 4648 base32, case-insensitive, padding optional.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u64;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// RFC 2104 over FIPS 180-1, for the TOTP codes only.
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..20].copy_from_slice(&sha1(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let inner = sha1(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    sha1(&outer)
}

pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_and_hmac_vectors() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        // RFC 2202 test case 2.
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn totp_rfc6238_vectors() {
        // RFC 6238 appendix B (SHA1, secret "12345678901234567890"), last 6 digits.
        let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(base32_decode(seed).unwrap(), b"12345678901234567890");
        assert_eq!(totp(seed, 59).unwrap(), "287082");
        assert_eq!(totp(seed, 1_111_111_109).unwrap(), "081804");
        assert_eq!(totp(seed, 1_234_567_890).unwrap(), "005924");
        assert_eq!(totp(seed, 2_000_000_000).unwrap(), "279037");
        assert_eq!(totp("not base32!", 59), None);
    }
}
