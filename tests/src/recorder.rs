//! A recording proxy on loopback in front of the local AWS: every HTTP request a function
//! sends is parsed and recorded as (service, operation), so a test can count the calls an
//! operation makes on the wire, per service. It can add a delay to every answer (as the
//! network does on AWS) and answer `AccessDenied` for `sts:AssumeRole` on chosen roles, as
//! AWS does when a trust policy's conditions gate the caller (moto grants every assume).
//!
//! The service is the SigV4 credential scope's (`Credential=<key>/<date>/<region>/<service>/`);
//! the operation is the query protocol's `Action=` (IAM, STS) or the JSON protocol's
//! `X-Amz-Target` (Secrets Manager). The SDK does not pipeline requests on a connection, so
//! a request read means the answer to the one before it has been forwarded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// One AWS call as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The signing name: `iam`, `sts`, `secretsmanager`.
    pub service: String,
    /// `CreateRole`, `GetSecretValue`, ...
    pub operation: String,
    /// For `sts:AssumeRole`, the role asked for (no secret: an ARN).
    pub role_arn: Option<String>,
    /// Whether the proxy answered it `AccessDenied` itself.
    pub denied: bool,
}

#[derive(Default)]
struct State {
    calls: Mutex<Vec<Call>>,
    /// Roles whose `sts:AssumeRole` is answered `AccessDenied`.
    denied_roles: Mutex<Vec<String>>,
}

pub struct Recorder {
    pub port: u16,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream`, each answer `delay` late.
    pub async fn start(upstream: u16, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, delay, shared.clone()));
            }
        });
        Self {
            port,
            state,
            accept,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on `sts:AssumeRole` on `role_arn` is denied, as AWS denies a caller that
    /// cannot meet the trust policy's conditions.
    pub fn deny_assume_role(&self, role_arn: &str) {
        self.state
            .denied_roles
            .lock()
            .unwrap()
            .push(role_arn.to_string());
    }

    /// Every call recorded so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// The calls recorded so far, forgotten: what the next operation sends starts from zero.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.state.calls.lock().unwrap())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Calls counted per service and per operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub total: usize,
    pub per_service: BTreeMap<String, usize>,
    pub per_operation: BTreeMap<String, usize>,
}

impl Tally {
    pub fn of(calls: &[Call]) -> Self {
        let mut t = Tally::default();
        for c in calls {
            t.total += 1;
            *t.per_service.entry(c.service.clone()).or_default() += 1;
            *t.per_operation
                .entry(format!("{}:{}", c.service, c.operation))
                .or_default() += 1;
        }
        t
    }

    pub fn service(&self, service: &str) -> usize {
        self.per_service.get(service).copied().unwrap_or(0)
    }

    pub fn operation(&self, qualified: &str) -> usize {
        self.per_operation.get(qualified).copied().unwrap_or(0)
    }

    /// Writes (`service:Operation`) only: what a no-op must not send.
    pub fn writes(&self) -> Vec<String> {
        const READS: [&str; 4] = ["Get", "List", "Describe", "AssumeRole"];
        self.per_operation
            .keys()
            .filter(|op| {
                let name = op.split(':').nth(1).unwrap_or_default();
                !READS.iter().any(|r| name.starts_with(r))
            })
            .cloned()
            .collect()
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} calls (", self.total)?;
        let services: Vec<String> = self
            .per_service
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        write!(f, "{}): ", services.join(", "))?;
        let ops: Vec<String> = self
            .per_operation
            .iter()
            .map(|(o, n)| format!("{o} x{n}"))
            .collect();
        write!(f, "{}", ops.join(", "))
    }
}

async fn relay(client: TcpStream, upstream: u16, delay: Duration, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    // Set when a request went up and its answer has not started: each answer is delayed once.
    let awaiting = Arc::new(AtomicBool::new(false));
    let up = requests(
        client_read,
        server_write,
        client_write.clone(),
        state,
        awaiting.clone(),
    );
    let down = answers(server_read, client_write, delay, awaiting);
    let _ = tokio::join!(up, down);
}

/// Reads each request from the client, records it and forwards it (or denies it).
async fn requests(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    client: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    state: Arc<State>,
    awaiting: Arc<AtomicBool>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(len) = request_len(&pending) {
            let request: Vec<u8> = pending.drain(..len).collect();
            let mut call = parse(&request);
            let deny = call.as_ref().is_some_and(|c| {
                c.operation == "AssumeRole"
                    && c.role_arn.as_ref().is_some_and(|arn| {
                        state.denied_roles.lock().unwrap().iter().any(|d| d == arn)
                    })
            });
            if let Some(c) = call.as_mut() {
                c.denied = deny;
                state.calls.lock().unwrap().push(c.clone());
            }
            let sent = if deny {
                let role = call.and_then(|c| c.role_arn).unwrap_or_default();
                client.lock().await.write_all(&access_denied(&role)).await
            } else {
                awaiting.store(true, Ordering::SeqCst);
                to.write_all(&request).await
            };
            if sent.is_err() {
                return;
            }
        }
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
    let _ = to.shutdown().await;
}

/// Forwards the server's answers, each `delay` late (its first bytes wait).
async fn answers(
    mut from: OwnedReadHalf,
    to: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    delay: Duration,
    awaiting: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if awaiting.swap(false, Ordering::SeqCst) && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.lock().await.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.lock().await.shutdown().await;
}

/// The length of the first complete request in `buf` (head and Content-Length body).
fn request_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let body_len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= head_end + body_len).then_some(head_end + body_len)
}

fn parse(request: &[u8]) -> Option<Call> {
    let head_end = request.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&request[..head_end]);
    let body = String::from_utf8_lossy(&request[head_end + 4..]);
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let service = header("authorization")
        .and_then(|a| {
            let scope = a
                .split("Credential=")
                .nth(1)?
                .split(',')
                .next()?
                .to_string();
            scope.split('/').nth(3).map(String::from)
        })
        .unwrap_or_else(|| "unsigned".into());
    let form = form_fields(&body);
    let operation = match header("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or_default().to_string(),
        None => form.get("Action").cloned().unwrap_or_default(),
    };
    Some(Call {
        service,
        role_arn: (operation == "AssumeRole")
            .then(|| form.get("RoleArn").cloned())
            .flatten(),
        operation,
        denied: false,
    })
}

/// The fields of an `application/x-www-form-urlencoded` body.
fn form_fields(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What STS answers a caller the trust policy does not admit.
fn access_denied(role_arn: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole on resource: \
         {role_arn}</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_query_and_json_protocols() {
        let q = b"POST / HTTP/1.1\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/sts/aws4_request, SignedHeaders=host\r\ncontent-length: 66\r\n\r\nAction=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&X=1234";
        assert_eq!(request_len(q), Some(q.len()));
        let c = parse(q).unwrap();
        assert_eq!(
            (c.service.as_str(), c.operation.as_str()),
            ("sts", "AssumeRole")
        );
        assert_eq!(c.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
        let j = b"POST / HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/secretsmanager/aws4_request, S=1\r\nX-Amz-Target: secretsmanager.GetSecretValue\r\nContent-Length: 2\r\n\r\n{}";
        let c = parse(j).unwrap();
        assert_eq!(
            (c.service.as_str(), c.operation.as_str()),
            ("secretsmanager", "GetSecretValue")
        );
        assert_eq!(request_len(&j[..j.len() - 1]), None);
    }
}
