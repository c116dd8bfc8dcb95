//! `install_panic_hook` replaces a process-wide hook, so it gets a test binary of its own.

use std::io::Write;
use std::sync::{Arc, Mutex};

use cfn_custom_resource::{
    handle, install_panic_hook, resource_fn, Outcome, RecordingSender, Request, ResourceError,
    Status,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

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
async fn panic_is_logged_with_its_location_but_not_its_message() {
    install_panic_hook();
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let resource = resource_fn(|_req: Request| async move {
        let secret: Result<Outcome, ResourceError> = Err("hunter2-password".into());
        #[allow(clippy::unnecessary_literal_unwrap)]
        Ok(secret.expect("parsing the secret"))
    });
    let payload = json!({
        "RequestType": "Create",
        "ResponseURL": "https://example.com/r?X-Amz-Signature=abc123def456",
        "StackId": "stack",
        "RequestId": "req-1",
        "LogicalResourceId": "Thing",
        "ResourceType": "Custom::Thing",
        "ResourceProperties": {}
    });
    let sender = RecordingSender::new();
    handle(
        &resource,
        LambdaEvent::new(payload, Context::default()),
        &sender,
    )
    .await
    .unwrap();

    let response = &sender.responses()[0];
    assert_eq!(response.status, Status::Failed);
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("panic (message withheld)"), "{logs}");
    assert!(logs.contains("tests/panic_hook.rs:"), "{logs}");
    assert!(!logs.contains("hunter2-password"), "{logs}");
    assert!(!logs.contains("parsing the secret"), "{logs}");
}
