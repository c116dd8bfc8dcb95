//! Playing CloudFormation for the in-process `trust-link` handler: each request goes through
//! the real protocol code and its answer comes back over real HTTP on loopback.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cfn_custom_resource::HttpSender;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use trust_link::{LinkService, TrustLinkResource};
use trustlink_aws::ports::Cloud;

use crate::cfn::{request, CloudFormation};
use crate::fixtures::{fast_verify, settings};

pub struct Harness<C: Cloud> {
    pub cfn: CloudFormation,
    pub resource: TrustLinkResource<C>,
    sender: HttpSender,
    n: AtomicU32,
}

impl<C: Cloud> Harness<C> {
    pub async fn new(cloud: C) -> Self {
        Self {
            cfn: CloudFormation::start().await,
            resource: TrustLinkResource::new(LinkService::new(cloud, settings(), fast_verify())),
            sender: HttpSender::new().unwrap(),
            n: AtomicU32::new(0),
        }
    }

    pub fn next_id(&self) -> String {
        format!(
            "req-{}-{}",
            std::process::id(),
            self.n.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Sends one request through the real handler, with `deadline` left, and returns what
    /// CloudFormation received.
    pub async fn send_with_deadline(
        &self,
        kind: &str,
        physical: Option<&str>,
        props: &Value,
        old: Option<&Value>,
        deadline: Duration,
    ) -> Value {
        let id = self.next_id();
        let event = request(kind, &id, physical, props, old, &self.cfn.response_url(&id));
        self.invoke(event, deadline).await.expect("delivered");
        let responses = self.cfn.responses(&id);
        assert_eq!(responses.len(), 1, "exactly one response per request");
        let response = responses.into_iter().next().unwrap();
        assert_eq!(response["RequestId"], json!(id));
        // CloudFormation's presigned URL has no Content-Type in its signature: it must be empty.
        assert_eq!(self.cfn.puts(&id)[0].0.header("content-type"), Some(""));
        response
    }

    pub async fn send(
        &self,
        kind: &str,
        physical: Option<&str>,
        props: &Value,
        old: Option<&Value>,
    ) -> Value {
        self.send_with_deadline(kind, physical, props, old, Duration::from_secs(120))
            .await
    }

    pub async fn invoke(
        &self,
        event: Value,
        deadline: Duration,
    ) -> Result<(), cfn_custom_resource::Error> {
        let mut ctx = Context::default();
        ctx.request_id = self.next_id();
        ctx.deadline = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            + deadline)
            .as_millis() as u64;
        cfn_custom_resource::handle(&self.resource, LambdaEvent::new(event, ctx), &self.sender)
            .await
    }
}
