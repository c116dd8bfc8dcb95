//! A Lambda runtime API on loopback (the part a function's runtime client talks to), so the
//! real function binaries run as they do in Lambda: poll for an event, answer it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::http::{serve, HttpRequest};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, Value, u64)>>,
    queued: Notify,
    outcomes: Mutex<Vec<(String, Outcome)>>,
    done: Notify,
}

pub struct RuntimeApi {
    port: u16,
    state: Arc<State>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let s = state.clone();
        serve(listener, move |req: HttpRequest| {
            let s = s.clone();
            async move {
                let path = req.path().to_string();
                if req.method == "GET" && path.ends_with("/runtime/invocation/next") {
                    let (id, event, deadline) = loop {
                        let notified = s.queued.notified();
                        if let Some(item) = s.queue.lock().unwrap().pop_front() {
                            break item;
                        }
                        notified.await;
                    };
                    let headers = vec![
                        ("Lambda-Runtime-Aws-Request-Id", id),
                        ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:local".to_string(),
                        ),
                        (
                            "Lambda-Runtime-Trace-Id",
                            "Root=1-00000000-000000000000000000000000".to_string(),
                        ),
                        ("Content-Type", "application/json".to_string()),
                    ];
                    (200, headers, event.to_string().into_bytes())
                } else if req.method == "POST" && path.contains("/runtime/invocation/") {
                    let id = path.split('/').rev().nth(1).unwrap_or_default().to_string();
                    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                    let outcome = if path.ends_with("/response") {
                        Outcome::Response(body)
                    } else {
                        Outcome::Error(body)
                    };
                    s.outcomes.lock().unwrap().push((id, outcome));
                    s.done.notify_waiters();
                    (202, Vec::new(), b"{}".to_vec())
                } else {
                    (202, Vec::new(), b"{}".to_vec())
                }
            }
        });
        Self { port, state }
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function process, and the rest of Lambda's environment.
    pub fn env(&self, function_name: &str) -> Vec<(String, String)> {
        vec![
            (
                "AWS_LAMBDA_RUNTIME_API".into(),
                format!("127.0.0.1:{}", self.port),
            ),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), function_name.into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "local".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ]
    }

    /// Queues an invocation and waits for the function's answer.
    pub async fn invoke(&self, id: &str, event: Value, timeout: Duration) -> Outcome {
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + timeout.as_millis() as u64;
        self.state
            .queue
            .lock()
            .unwrap()
            .push_back((id.to_string(), event, deadline));
        self.state.queued.notify_waiters();
        let start = std::time::Instant::now();
        loop {
            let notified = self.state.done.notified();
            if let Some((_, o)) = self
                .state
                .outcomes
                .lock()
                .unwrap()
                .iter()
                .find(|(i, _)| i == id)
            {
                return o.clone();
            }
            assert!(
                start.elapsed() < timeout + Duration::from_secs(5),
                "the function did not answer {id}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }
}
