//! A loopback proxy in front of the local AWS that answers a share of the IAM requests itself
//! with IAM's real throttling error (HTTP 400, `<Code>Throttling</Code>`), as IAM does when an
//! account's token bucket is empty, and forwards everything else. The SDK's own retry
//! strategy sees a real throttling answer, so what is tested is the retry configuration the
//! functions run with. It also counts every request it receives by service (the SigV4
//! signing name), throttled ones included.
//!
//! The SDK does not pipeline requests on a connection: once a request has been read, the
//! answer to the one before it has been forwarded in full, so an answer the proxy writes
//! itself never interleaves with one from upstream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct State {
    /// Every how many IAM requests one is throttled (0: none).
    every: u64,
    iam_seen: AtomicU64,
    throttled: AtomicU64,
    by_service: Mutex<BTreeMap<String, u64>>,
}

pub struct ThrottleProxy {
    pub port: u16,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl ThrottleProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream`, answering every `every`-th IAM
    /// request (`every` = 10: 10% of them) `Throttling` instead; 0 throttles nothing.
    pub async fn start(upstream: u16, every: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(State {
            every,
            ..State::default()
        });
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, shared.clone()));
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

    /// IAM requests answered `Throttling` so far.
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::SeqCst)
    }

    /// Requests received so far per signing name (`iam`, `sts`, `secretsmanager`), the
    /// throttled ones included.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.state.by_service.lock().unwrap().clone()
    }
}

impl Drop for ThrottleProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, upstream: u16, state: Arc<State>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
    let down = tokio::spawn(answers(server_read, client_write.clone()));
    requests(client_read, server_write, client_write, state).await;
    down.abort();
}

/// Reads whole requests from the client; forwards each or answers it `Throttling`.
async fn requests(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    client: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    state: Arc<State>,
) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Some(len) = request_len(&buf) {
            let request: Vec<u8> = buf.drain(..len).collect();
            let service = signing_name(&request).unwrap_or_else(|| "unsigned".into());
            *state
                .by_service
                .lock()
                .unwrap()
                .entry(service.clone())
                .or_default() += 1;
            if service == "iam" && state.every > 0 {
                let n = state.iam_seen.fetch_add(1, Ordering::SeqCst);
                if n % state.every == state.every - 1 {
                    let id = state.throttled.fetch_add(1, Ordering::SeqCst);
                    let mut client = client.lock().await;
                    if client.write_all(&throttling(id)).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
            if to.write_all(&request).await.is_err() {
                return;
            }
        }
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Copies upstream's answers to the client until either side closes.
async fn answers(mut from: OwnedReadHalf, to: Arc<tokio::sync::Mutex<OwnedWriteHalf>>) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.lock().await.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.lock().await.shutdown().await;
}

/// The length of the first whole request in `buf` (head and Content-Length body), if there.
fn request_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let body = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head_end + body).then_some(head_end + body)
}

/// `Credential=<key>/<date>/<region>/<service>/aws4_request` of the Authorization header.
fn signing_name(request: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(request);
    let auth = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))?;
    let scope = auth.split("Credential=").nth(1)?;
    scope.split('/').nth(3).map(str::to_string)
}

/// IAM's answer when the account's request rate is exceeded (the query protocol's error).
fn throttling(n: u64) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
         <RequestId>00000000-0000-4000-8000-{n:012}</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: 00000000-0000-4000-8000-{n:012}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_split_and_named_by_their_signing_scope() {
        let one = b"POST / HTTP/1.1\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/iam/aws4_request, SignedHeaders=host\r\ncontent-length: 5\r\n\r\nhello";
        let mut two = one.to_vec();
        two.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(request_len(&two[..10]), None);
        assert_eq!(request_len(&two), Some(one.len()));
        assert_eq!(request_len(&one[..one.len() - 1]), None);
        assert_eq!(signing_name(one).as_deref(), Some("iam"));
        assert_eq!(signing_name(b"GET / HTTP/1.1\r\n\r\n"), None);
        let answer = String::from_utf8(throttling(3)).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 "));
        assert!(answer.contains("<Code>Throttling</Code>"));
    }
}
