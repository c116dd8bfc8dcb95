//! A TCP proxy on loopback that adds a fixed delay to every AWS call, as the network does on
//! AWS (moto answers in a millisecond, which hides races between concurrent deliveries).
//!
//! Every exchange on a connection (a request written, then its answer) is delayed once:
//! the first bytes of each answer wait `delay` before they are forwarded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

pub struct LatencyProxy {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl LatencyProxy {
    /// Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream`, each answer `delay` late.
    pub async fn start(upstream: u16, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().expect("local address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(relay(client, upstream, delay));
            }
        });
        Self {
            port,
            connections,
            accept,
        }
    }

    /// Connections opened through the proxy so far: 0 means no AWS call was made.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, upstream: u16, delay: Duration) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Set when a request went up and its answer has not started yet.
    let awaiting = Arc::new(AtomicBool::new(false));
    let up = copy(client_read, server_write, awaiting.clone(), None);
    let down = copy(server_read, client_write, awaiting, Some(delay));
    let _ = tokio::join!(up, down);
}

/// Copies until end of file. Upward (`delay` None) marks an exchange as started; downward
/// waits `delay` before the first chunk of each answer.
async fn copy(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    awaiting: Arc<AtomicBool>,
    delay: Option<Duration>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match delay {
            None => awaiting.store(true, Ordering::SeqCst),
            Some(d) => {
                if awaiting.swap(false, Ordering::SeqCst) {
                    tokio::time::sleep(d).await;
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
