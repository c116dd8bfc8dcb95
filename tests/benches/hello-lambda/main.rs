//! The baseline of `make bench`: the smallest `lambda_runtime` function (it answers every
//! event with the event), so the functions' init is shown as a ratio to what any Rust Lambda
//! pays before its first line of its own.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
