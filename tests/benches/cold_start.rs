//! `make bench`: how fast the functions start and how much memory they take, the way Lambda
//! runs them: the release binary, a fresh process per cold start, the runtime API on loopback.
//! A cold start is measured from spawning the process to CloudFormation receiving the answer
//! (a Create refused by validation: no AWS call, so only start-up and the protocol count).
//! Each function's init (spawn to its first poll for an event) is shown next to a hello-world
//! `lambda_runtime` binary's (tests/benches/hello-lambda), measured the same way in this run,
//! as a ratio (issue 13.5: the goal is at most 1.5x).

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use trustlink_tests::cfn::{request, CloudFormation};
use trustlink_tests::lambda_api::{Outcome, RuntimeApi};
use trustlink_tests::workspace_root;

const RUNS: usize = 20;

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The functions whose init is compared with the baseline, and the baseline.
const FUNCTIONS: [&str; 3] = ["trust-link", "rotator", "link-check"];
const BASELINE: &str = "hello-lambda";

/// Lambda's environment for a function whose runtime API is 127.0.0.1:`port`, AWS nowhere
/// (init makes no AWS call).
fn lambda_env(port: u16) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}")),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// From spawning `binary` to its first `GET .../runtime/invocation/next`: everything it does
/// before it can take an event.
fn init_time(binary: &Path) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(lambda_env(port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("{} exited before polling: {status}", binary.display());
                }
                assert!(start.elapsed() < Duration::from_secs(30), "no poll in 30 s");
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).expect("read the poll");
        assert!(n > 0, "the connection closed before a request");
        head.extend_from_slice(&buf[..n]);
    }
    let elapsed = start.elapsed();
    let request = String::from_utf8_lossy(&head);
    assert!(
        request.starts_with("GET ") && request.contains("/runtime/invocation/next"),
        "the first request is not a poll: {request}"
    );
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

/// The median init of each binary over [`RUNS`] starts, the baseline's first. The binaries
/// take turns, so a machine busy for a while slows them all alike.
fn init_medians(release: &Path) -> Vec<(&'static str, Duration)> {
    let names: Vec<&str> = std::iter::once(BASELINE).chain(FUNCTIONS).collect();
    let mut times = vec![Vec::new(); names.len()];
    for _ in 0..RUNS {
        for (i, name) in names.iter().enumerate() {
            times[i].push(init_time(&release.join(name)));
        }
    }
    names
        .into_iter()
        .zip(times)
        .map(|(name, mut t)| {
            t.sort();
            (name, t[RUNS / 2])
        })
        .collect()
}

fn print_init_ratios(release: &Path) {
    let medians = init_medians(release);
    let baseline = medians[0].1.as_secs_f64();
    for (name, median) in &medians {
        println!(
            "{name:>12}: init (spawn to first poll) median over {RUNS} starts {:.2} ms, {:.2}x {BASELINE}",
            median.as_secs_f64() * 1000.0,
            median.as_secs_f64() / baseline
        );
    }
}

#[tokio::main]
async fn main() {
    let release = workspace_root().join("target/release");
    print_init_ratios(&release);
    for bin in FUNCTIONS {
        let size = std::fs::metadata(release.join(bin))
            .map(|m| m.len())
            .unwrap_or_else(|_| {
                panic!("target/release/{bin} is missing: `make bench` builds it first")
            });
        println!(
            "{bin:>10}: release binary {:.1} MiB",
            size as f64 / 1048576.0
        );
    }

    let cfn = CloudFormation::start().await;
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for i in 0..RUNS {
        let api = RuntimeApi::start().await;
        let start = Instant::now();
        let mut child = Command::new(release.join("trust-link"))
            .env_clear()
            .envs(api.env("trust-link"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the release binary");
        let id = format!("bench-{i}");
        let props = json!({"LinkName": "bench", "TrustedPrincipal": "*"});
        let event = request("Create", &id, None, &props, None, &cfn.response_url(&id));
        let outcome = api.invoke(&id, event, Duration::from_secs(30)).await;
        let answered = cfn.response(&id, Duration::from_secs(10)).await;
        let elapsed = start.elapsed();
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        assert_eq!(answered["Status"], "FAILED");
        rss.push(peak_rss_kib(child.id()).unwrap_or(0));
        let _ = child.kill();
        let _ = child.wait();
        times.push(elapsed);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "trust-link: cold start to CloudFormation's answer over {RUNS} runs: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(times[RUNS / 2]),
        ms(times[RUNS * 9 / 10]),
        ms(times[RUNS - 1])
    );
    rss.sort();
    println!(
        "trust-link: peak RSS after one invocation: median {} KiB",
        rss[RUNS / 2]
    );
}
