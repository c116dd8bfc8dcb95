//! Playing CloudFormation: presigned-looking ResponseURLs served on loopback, the PUTs they
//! receive recorded, and custom-resource request events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::http::{serve, HttpRequest};

/// The signature every ResponseURL carries; it must never appear in a log.
pub const URL_SIGNATURE: &str = "b9a1c0ffee5e11a7e5ignature0d15c105ed";

#[derive(Clone, Default)]
struct State {
    /// Every PUT with the status it was answered with.
    puts: Arc<Mutex<Vec<(HttpRequest, u16)>>>,
    /// Per response id: how many more PUTs get a 503.
    fail_next: Arc<Mutex<HashMap<String, u32>>>,
}

pub struct CloudFormation {
    port: u16,
    state: State,
}

impl CloudFormation {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let state = State::default();
        let s = state.clone();
        serve(listener, move |req: HttpRequest| {
            let s = s.clone();
            async move {
                let id = req.path().trim_start_matches("/cfn-response/").to_string();
                let fail = {
                    let mut f = s.fail_next.lock().unwrap();
                    match f.get_mut(&id) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            true
                        }
                        _ => false,
                    }
                };
                let status = if fail { 503 } else { 200 };
                s.puts.lock().unwrap().push((req, status));
                (status, Vec::new(), Vec::new())
            }
        });
        Self { port, state }
    }

    /// A ResponseURL shaped like S3's presigned ones.
    pub fn response_url(&self, id: &str) -> String {
        format!(
            "http://127.0.0.1:{}/cfn-response/{id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261122%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261122T000000Z&X-Amz-Expires=7200&X-Amz-SignedHeaders=host&X-Amz-Signature={URL_SIGNATURE}",
            self.port
        )
    }

    /// The next `failures` PUTs to this id get 503.
    pub fn fail_next(&self, id: &str, failures: u32) {
        self.state
            .fail_next
            .lock()
            .unwrap()
            .insert(id.to_string(), failures);
    }

    /// Every PUT to this id, in order, with the status it got.
    pub fn puts(&self, id: &str) -> Vec<(HttpRequest, u16)> {
        let path = format!("/cfn-response/{id}");
        self.state
            .puts
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r.path() == path)
            .cloned()
            .collect()
    }

    /// The bodies of the PUTs to this id that were accepted (answered 200), parsed.
    pub fn responses(&self, id: &str) -> Vec<Value> {
        self.puts(id)
            .into_iter()
            .filter(|(_, status)| *status == 200)
            .map(|(r, _)| serde_json::from_slice(&r.body).expect("a response body is JSON"))
            .collect()
    }

    /// Waits for the first accepted response to `id`.
    pub async fn response(&self, id: &str, within: Duration) -> Value {
        let start = std::time::Instant::now();
        loop {
            if let Some(first) = self.responses(id).into_iter().next() {
                return first;
            }
            assert!(
                start.elapsed() < within,
                "no response to {id} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A custom-resource request as CloudFormation sends it.
pub fn request(
    request_type: &str,
    request_id: &str,
    physical_id: Option<&str>,
    properties: &Value,
    old_properties: Option<&Value>,
    response_url: &str,
) -> Value {
    let mut e = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:trustlink-trust-link",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/consumer/5b3c7d2e-0000-4000-8000-000000000000",
        "RequestId": request_id,
        "LogicalResourceId": "DevLink",
        "ResourceType": "Custom::TrustLink",
        "ResourceProperties": properties,
    });
    if let Some(p) = physical_id {
        e["PhysicalResourceId"] = json!(p);
    }
    if let Some(o) = old_properties {
        e["OldResourceProperties"] = o.clone();
    }
    e
}
