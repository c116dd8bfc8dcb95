//! `make bench`: how fast the functions start and how much memory they take, the way Lambda
//! runs them: the release binary, a fresh process per cold start, the runtime API on loopback.
//! A cold start is measured from spawning the process to CloudFormation receiving the answer
//! (a Create refused by validation: no AWS call, so only start-up and the protocol count).

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

#[tokio::main]
async fn main() {
    let release = workspace_root().join("target/release");
    for bin in ["trust-link", "rotator"] {
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
