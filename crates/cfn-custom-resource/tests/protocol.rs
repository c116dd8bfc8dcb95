//! End-to-end behaviour of `handle`: a real PUT to a hand-written HTTP/1.1 server on
//! loopback, or an in-memory `RecordingSender` where the wire does not matter.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cfn_custom_resource::{
    failed_create_id, handle, handle_with_config, is_failed_create_id, resource_fn, Config,
    CustomResource, Error, HttpSender, Outcome, RecordingSender, Request, RequestType,
    ResourceError, Response, RetryPolicy, SendError, Status, MAX_BODY_BYTES,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SIGNATURE: &str = "c0ffee5ecret51gnature0123456789abcdef";

// ---------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server that records every request and answers from a script.

#[derive(Clone, Debug)]
struct Captured {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn response(&self) -> Response {
        serde_json::from_slice(&self.body).expect("body is a response document")
    }
}

struct Server {
    base: String,
    captured: Arc<Mutex<Vec<(Instant, Captured)>>>,
}

impl Server {
    /// Answers the n-th request with `statuses[n]`, and 200 once the script runs out.
    async fn start(statuses: Vec<u16>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let captured = Arc::new(Mutex::new(Vec::new()));
        let seen = captured.clone();
        let count = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                let n = count.fetch_add(1, Ordering::SeqCst);
                let status = statuses.get(n).copied().unwrap_or(200);
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    seen.lock().unwrap().push((Instant::now(), request));
                    let body = if status == 200 {
                        String::new()
                    } else {
                        "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>\
                         <Message>nope</Message></Error>"
                            .to_owned()
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Server { base, captured }
    }

    fn url(&self) -> String {
        format!(
            "{}/cfn-responses/arn%3Aaws%3Acloudformation%3Aeu-west-1/req-1?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240101&X-Amz-Signature={SIGNATURE}",
            self.base
        )
    }

    fn requests(&self) -> Vec<Captured> {
        self.captured
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.captured
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| *t)
            .collect()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Captured> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Captured {
        method,
        target,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------
// Events, contexts, senders and resources.

fn event(request_type: &str, url: &str) -> Value {
    let mut e = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provider",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo/guid",
        "RequestId": "req-1",
        "LogicalResourceId": "Thing",
        "ResourceType": "Custom::Thing",
        "ResourceProperties": {"ServiceToken": "x", "Name": "thing"}
    });
    if request_type != "Create" {
        e["PhysicalResourceId"] = json!("phys-from-request");
    }
    if request_type == "Update" {
        e["OldResourceProperties"] = json!({"ServiceToken": "x", "Name": "old"});
    }
    e
}

fn lambda_event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn lambda_event_with_deadline(payload: Value, in_: Duration) -> LambdaEvent<Value> {
    let mut context = Context::default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    context.deadline = (now + in_).as_millis() as u64;
    LambdaEvent::new(payload, context)
}

fn fast_sender() -> HttpSender {
    HttpSender::new().unwrap().with_retry_policy(RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        attempt_timeout: Duration::from_secs(5),
    })
}

const URL: &str = "https://bucket.s3.amazonaws.com/path/req-1?X-Amz-Signature=c0ffee5ecret51gnature0123456789abcdef";

type Behaviour = Box<dyn Fn(&Request) -> Result<Outcome, ResourceError> + Send + Sync>;

/// Answers every request with the same closure and counts calls per type.
struct Scripted {
    behaviour: Behaviour,
    calls: Mutex<Vec<RequestType>>,
}

impl Scripted {
    fn new(f: impl Fn(&Request) -> Result<Outcome, ResourceError> + Send + Sync + 'static) -> Self {
        Scripted {
            behaviour: Box::new(f),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<RequestType> {
        self.calls.lock().unwrap().clone()
    }

    fn run(&self, req: &Request) -> Result<Outcome, ResourceError> {
        self.calls.lock().unwrap().push(req.request_type());
        (self.behaviour)(req)
    }
}

impl CustomResource for Scripted {
    async fn create(&self, req: &Request) -> Result<Outcome, ResourceError> {
        self.run(req)
    }
    async fn update(&self, req: &Request) -> Result<Outcome, ResourceError> {
        self.run(req)
    }
    async fn delete(&self, req: &Request) -> Result<Outcome, ResourceError> {
        self.run(req)
    }
}

async fn answer(resource: &impl CustomResource, payload: Value) -> Response {
    let sender = RecordingSender::new();
    handle(resource, lambda_event(payload), &sender)
        .await
        .unwrap();
    let mut responses = sender.responses();
    assert_eq!(responses.len(), 1, "exactly one response");
    responses.pop().unwrap()
}

// ---------------------------------------------------------------------------------------
// Over the wire.

#[tokio::test]
async fn put_has_empty_content_type_length_and_response_fields() {
    let server = Server::start(vec![]).await;
    let resource = Scripted::new(|req| {
        let name = req.resource_properties()["Name"]
            .as_str()
            .unwrap()
            .to_owned();
        Ok(Outcome::new("phys-created").with_data("Name", name))
    });
    handle(
        &resource,
        lambda_event(event("Create", &server.url())),
        &fast_sender(),
    )
    .await
    .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let put = &requests[0];
    assert_eq!(put.method, "PUT");
    // The presigned query must reach the server untouched: it is the signature.
    assert!(
        put.target.starts_with("/cfn-responses/arn%3Aaws"),
        "{}",
        put.target
    );
    assert!(put
        .target
        .ends_with(&format!("X-Amz-Signature={SIGNATURE}")));
    assert_eq!(put.header("content-type"), Some(""), "{:?}", put.headers);
    let lengths = put
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .count();
    assert_eq!(lengths, 1, "{:?}", put.headers);
    assert_eq!(
        put.header("content-length"),
        Some(put.body.len().to_string().as_str())
    );

    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": "phys-created",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo/guid",
            "RequestId": "req-1",
            "LogicalResourceId": "Thing",
            "NoEcho": false,
            "Data": {"Name": "thing"}
        })
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_one_success() {
    let server = Server::start(vec![503, 503]).await;
    let resource = Scripted::new(|_| Ok(Outcome::new("p")));
    handle(
        &resource,
        lambda_event(event("Create", &server.url())),
        &fast_sender(),
    )
    .await
    .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "two 503s then a 200");
    // Every attempt carries the same answer; the handler ran once.
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    assert_eq!(resource.calls(), vec![RequestType::Create]);
}

#[tokio::test]
async fn client_errors_are_final() {
    let server = Server::start(vec![404]).await;
    let resource = Scripted::new(|_| Ok(Outcome::new("p")));
    let err = handle(
        &resource,
        lambda_event(event("Create", &server.url())),
        &fast_sender(),
    )
    .await
    .unwrap_err();
    // Give a (wrong) retry the time to show up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.requests().len(), 1);
    match err {
        Error::Delivery(SendError::Rejected {
            status,
            code,
            attempts,
        }) => {
            assert_eq!((status, attempts), (404, 1));
            assert_eq!(code.as_deref(), Some("NoSuchKey"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_max_attempts() {
    let server = Server::start(vec![500; 10]).await;
    let resource = Scripted::new(|_| Ok(Outcome::new("p")));
    let err = handle(
        &resource,
        lambda_event(event("Create", &server.url())),
        &fast_sender(),
    )
    .await
    .unwrap_err();
    assert_eq!(server.requests().len(), 5);
    assert!(matches!(
        err,
        Error::Delivery(SendError::Rejected {
            status: 500,
            attempts: 5,
            ..
        })
    ));
}

#[tokio::test]
async fn unreachable_url_is_retried_then_reported_without_the_signature() {
    // A port that was just free: connections are refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/r?X-Amz-Signature={SIGNATURE}");
    let resource = Scripted::new(|_| Ok(Outcome::new("p")));
    let err = handle(
        &resource,
        lambda_event(event("Create", &url)),
        &fast_sender(),
    )
    .await
    .unwrap_err();
    match &err {
        Error::Delivery(SendError::Unreachable { attempts, .. }) => assert_eq!(*attempts, 5),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.to_string().contains(SIGNATURE), "{err}");
}

#[tokio::test]
async fn handler_past_the_deadline_is_answered_failed_once_and_in_time() {
    let server = Server::start(vec![]).await;
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let resource = resource_fn(move |_req| {
        let flag = flag.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            flag.store(true, Ordering::SeqCst);
            Ok(Outcome::new("too-late"))
        }
    });
    let config = Config::default().with_deadline_margin(Duration::from_secs(1));
    let start = Instant::now();
    let payload = event("Create", &server.url());
    handle_with_config(
        &resource,
        lambda_event_with_deadline(payload, Duration::from_secs(2)),
        &fast_sender(),
        &config,
    )
    .await
    .unwrap();

    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 1);
    let answered_after = arrivals[0] - start;
    assert!(
        answered_after < Duration::from_millis(1900),
        "answered after {answered_after:?}, deadline was 2 s"
    );
    let response = server.requests()[0].response();
    assert_eq!(response.status, Status::Failed);
    assert!(response
        .reason
        .unwrap()
        .contains("timed out before the Lambda deadline"));
    assert_eq!(
        response.physical_resource_id,
        failed_create_id("Thing", "req-1")
    );

    // Past the point where the handler would have finished: it was cancelled, and nothing
    // else reached the server.
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(start.elapsed())).await;
    assert!(start.elapsed() > Duration::from_secs(3));
    assert!(
        !finished.load(Ordering::SeqCst),
        "abandoned handler kept running"
    );
    assert_eq!(server.requests().len(), 1, "a second response arrived");
}

#[tokio::test]
async fn malformed_event_with_response_url_is_answered_failed() {
    let server = Server::start(vec![]).await;
    let resource = Scripted::new(|_| panic!("must not be called"));

    let mut payload = event("Create", &server.url());
    payload["RequestType"] = json!("Destroy");
    handle(&resource, lambda_event(payload), &fast_sender())
        .await
        .unwrap();

    let mut payload = event("Update", &server.url());
    payload.as_object_mut().unwrap().remove("RequestType");
    handle(&resource, lambda_event(payload), &fast_sender())
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let unknown = requests[0].response();
    assert_eq!(unknown.status, Status::Failed);
    let reason = unknown.reason.unwrap();
    assert!(reason.contains("malformed request"), "{reason}");
    assert!(
        reason.contains("unknown RequestType \"Destroy\""),
        "{reason}"
    );
    assert_eq!(unknown.request_id, "req-1");
    assert_eq!(unknown.logical_resource_id, "Thing");
    assert!(is_failed_create_id(&unknown.physical_resource_id));

    let missing = requests[1].response();
    assert_eq!(
        missing.reason.as_deref(),
        Some("malformed request: missing RequestType")
    );
    // It was an Update: the id CloudFormation sent is kept.
    assert_eq!(missing.physical_resource_id, "phys-from-request");
    assert!(resource.calls().is_empty());
}

// ---------------------------------------------------------------------------------------
// Protocol rules (in memory).

#[tokio::test]
async fn unanswerable_events_are_invocation_errors() {
    let resource = Scripted::new(|_| panic!("must not be called"));
    let sender = RecordingSender::new();

    let mut payload = event("Create", URL);
    payload.as_object_mut().unwrap().remove("ResponseURL");
    let err = handle(&resource, lambda_event(payload), &sender)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unanswerable(p) if p == "missing ResponseURL"),
        "{err}"
    );

    let err = handle(&resource, lambda_event(json!("just a string")), &sender)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unanswerable(_)));

    let mut payload = event("Create", URL);
    payload["ResponseURL"] = json!(42);
    assert!(handle(&resource, lambda_event(payload), &sender)
        .await
        .is_err());

    // A URL no answer can be PUT to: refused before the resource does anything it could
    // never report (the resource panics if it is called).
    for url in [
        "ftp://bucket/key?X-Amz-Signature=x",
        "not a url",
        "s3://b/k",
    ] {
        let mut payload = event("Create", URL);
        payload["ResponseURL"] = json!(url);
        let err = handle(&resource, lambda_event(payload), &sender)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Unanswerable(p) if p.contains("not an http(s) URL")),
            "{url}: {err}"
        );
    }

    assert!(sender.recorded().is_empty());
}

#[tokio::test]
async fn handler_error_is_failed_with_its_reason() {
    let resource = Scripted::new(|_| Err(ResourceError::new("bucket name already taken")));
    let response = answer(&resource, event("Create", URL)).await;
    assert_eq!(response.status, Status::Failed);
    assert_eq!(
        response.reason.as_deref(),
        Some("bucket name already taken")
    );
    assert!(response.data.is_empty());
}

#[tokio::test]
async fn failed_create_without_id_gets_a_recognisable_fallback_and_its_delete_is_a_no_op() {
    let resource = Scripted::new(|req| match req.request_type() {
        RequestType::Create => Err("boom".into()),
        _ => panic!("delete of a failed create must not reach the resource"),
    });
    let created = answer(&resource, event("Create", URL)).await;
    assert_eq!(created.status, Status::Failed);
    assert_eq!(created.physical_resource_id, "failed-create-Thing-req-1");
    assert!(is_failed_create_id(&created.physical_resource_id));

    let mut delete = event("Delete", URL);
    delete["PhysicalResourceId"] = json!(created.physical_resource_id);
    let deleted = answer(&resource, delete).await;
    assert_eq!(deleted.status, Status::Success);
    assert_eq!(deleted.physical_resource_id, "failed-create-Thing-req-1");
    assert_eq!(resource.calls(), vec![RequestType::Create]);
}

#[tokio::test]
async fn failed_create_keeps_the_id_the_resource_gives() {
    let resource = Scripted::new(|_| {
        Err(ResourceError::new("half made").with_physical_resource_id("partial-123"))
    });
    let response = answer(&resource, event("Create", URL)).await;
    assert_eq!(response.status, Status::Failed);
    assert_eq!(response.physical_resource_id, "partial-123");
}

#[tokio::test]
async fn failed_update_and_delete_keep_the_request_id() {
    let resource = Scripted::new(|_| {
        Err(ResourceError::new("nope").with_physical_resource_id("something-else"))
    });
    for kind in ["Update", "Delete"] {
        let response = answer(&resource, event(kind, URL)).await;
        assert_eq!(response.status, Status::Failed, "{kind}");
        assert_eq!(response.physical_resource_id, "phys-from-request", "{kind}");
    }
}

#[tokio::test]
async fn successful_delete_answers_with_the_request_id() {
    let resource = Scripted::new(|_| Ok(Outcome::new("a-different-id")));
    let response = answer(&resource, event("Delete", URL)).await;
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.physical_resource_id, "phys-from-request");
}

#[tokio::test]
async fn update_ids_empty_keeps_and_new_replaces() {
    let keep = Scripted::new(|_| Ok(Outcome::default()));
    let response = answer(&keep, event("Update", URL)).await;
    assert_eq!(response.physical_resource_id, "phys-from-request");

    let replace = Scripted::new(|_| Ok(Outcome::new("replacement")));
    let response = answer(&replace, event("Update", URL)).await;
    assert_eq!(response.status, Status::Success);
    assert_eq!(response.physical_resource_id, "replacement");
}

#[tokio::test]
async fn create_with_empty_id_is_failed() {
    let resource = Scripted::new(|_| Ok(Outcome::default()));
    let response = answer(&resource, event("Create", URL)).await;
    assert_eq!(response.status, Status::Failed);
    assert!(response
        .reason
        .unwrap()
        .contains("empty physical resource id"));
    assert!(is_failed_create_id(&response.physical_resource_id));
}

#[tokio::test]
async fn handler_panic_is_failed_without_the_panic_message() {
    let resource = Scripted::new(|_| panic!("secret-in-panic-message"));
    for kind in ["Create", "Update", "Delete"] {
        let response = answer(&resource, event(kind, URL)).await;
        assert_eq!(response.status, Status::Failed, "{kind}");
        let reason = response.reason.unwrap();
        assert!(reason.starts_with("internal error"), "{reason}");
        assert!(!reason.contains("secret-in-panic-message"));
    }
}

#[tokio::test]
async fn no_echo_is_sent() {
    let resource = Scripted::new(|_| {
        Ok(Outcome::new("p")
            .with_data("Password", "pw")
            .with_no_echo(true))
    });
    let response = answer(&resource, event("Create", URL)).await;
    assert!(response.no_echo);
    assert_eq!(response.data["Password"], "pw");
}

#[tokio::test]
async fn long_reason_is_cut_keeping_its_start() {
    let long = format!("BEGIN {}", "x".repeat(20_000));
    let resource = Scripted::new(move |_| Err(ResourceError::new(long.clone())));
    let sender = RecordingSender::new();
    handle(&resource, lambda_event(event("Create", URL)), &sender)
        .await
        .unwrap();
    let recorded = sender.recorded();
    assert!(recorded[0].body.len() < MAX_BODY_BYTES);
    let reason = recorded[0].response().reason.unwrap();
    assert!(reason.starts_with("BEGIN xxx"));
    assert!(reason.ends_with("..."));
    assert!(reason.len() <= 1000);
}

#[tokio::test]
async fn huge_data_fails_the_create_but_keeps_its_id() {
    let resource = Scripted::new(|_| {
        let mut outcome = Outcome::new("real-resource-id");
        for i in 0..100 {
            outcome = outcome.with_data(format!("Key{i}"), "v".repeat(100));
        }
        Ok(outcome)
    });
    let sender = RecordingSender::new();
    handle(&resource, lambda_event(event("Create", URL)), &sender)
        .await
        .unwrap();
    let recorded = sender.recorded();
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0].body.len() < MAX_BODY_BYTES);
    let response = recorded[0].response();
    assert_eq!(response.status, Status::Failed);
    assert!(response
        .reason
        .unwrap()
        .starts_with("response data too large"));
    assert!(response.data.is_empty());
    // The Delete that follows must find what was created.
    assert_eq!(response.physical_resource_id, "real-resource-id");
}

#[tokio::test]
async fn reason_never_contains_the_response_url() {
    let resource = Scripted::new(|_| {
        Err(ResourceError::new(format!(
            "failed while talking to {URL}; query was {}",
            URL.split_once('?').unwrap().1
        )))
    });
    let response = answer(&resource, event("Create", URL)).await;
    let reason = response.reason.unwrap();
    assert!(!reason.contains(SIGNATURE), "{reason}");
    assert!(!reason.contains(URL), "{reason}");
    assert!(
        reason.contains("https://bucket.s3.amazonaws.com/path/req-1"),
        "{reason}"
    );
}

#[tokio::test]
async fn typed_properties_and_closure_resources() {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Props {
        name: String,
    }
    let resource = resource_fn(|req: Request| async move {
        let props: Props = req.properties()?;
        match req.request_type() {
            RequestType::Create => Ok(Outcome::new(format!("id-{}", props.name))),
            _ => Ok(Outcome::default()),
        }
    });
    let response = answer(&resource, event("Create", URL)).await;
    assert_eq!(response.physical_resource_id, "id-thing");

    let mut bad = event("Create", URL);
    bad["ResourceProperties"] = json!({"ServiceToken": "x"});
    let response = answer(&resource, bad).await;
    assert_eq!(response.status, Status::Failed);
    assert!(response
        .reason
        .unwrap()
        .contains("invalid ResourceProperties: missing field `Name`"));
}

// ---------------------------------------------------------------------------------------
// Logs.

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_contain_the_signature_or_no_echo_data() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let retrying = Server::start(vec![503]).await;
    let rejecting = Server::start(vec![403]).await;
    let sender = fast_sender();
    let secret_resource = Scripted::new(|_| {
        Ok(Outcome::new("p")
            .with_data("Password", "no-echo-secret-value")
            .with_no_echo(true))
    });
    let failing = Scripted::new(|_| Err(ResourceError::new(format!("cannot reach {URL}"))));

    handle(
        &secret_resource,
        lambda_event(event("Create", &retrying.url())),
        &sender,
    )
    .await
    .unwrap();
    handle(
        &failing,
        lambda_event(event("Update", &rejecting.url())),
        &sender,
    )
    .await
    .unwrap_err();
    let mut malformed = event("Create", &retrying.url());
    malformed["RequestType"] = json!(7);
    handle(&failing, lambda_event(malformed), &sender)
        .await
        .unwrap();
    let mut unanswerable = event("Create", URL);
    unanswerable.as_object_mut().unwrap().remove("ResponseURL");
    handle(&failing, lambda_event(unanswerable), &sender)
        .await
        .unwrap_err();

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("custom resource response delivered"),
        "{logs}"
    );
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("NOT delivered"), "{logs}");
    assert!(logs.contains("cannot be answered"), "{logs}");
    assert!(
        logs.contains("request_id=\"req-1\"") || logs.contains("request_id=req-1"),
        "{logs}"
    );
    assert!(!logs.contains(SIGNATURE), "{logs}");
    assert!(!logs.contains("X-Amz-Credential"), "{logs}");
    assert!(!logs.contains("no-echo-secret-value"), "{logs}");
}
