//! A function binary run as Lambda runs it: a separate process polling a Lambda runtime API
//! ([`crate::lambda_api`]), with everything it prints kept to be scanned.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The function process with everything it printed. Dropping it kills the process, also when
/// an assertion fails midway, so no test leaves a process behind.
pub struct Function {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Function {
    /// Starts `binary` with exactly `env` (plus `PATH`).
    pub fn spawn(binary: &Path, mut env: Vec<(String, String)>) -> Self {
        if let Some(path) = std::env::var_os("PATH") {
            env.push(("PATH".into(), path.to_string_lossy().into_owned()));
        }
        let mut child = Command::new(binary)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let output = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            pump(child.stdout.take().expect("piped stdout"), output.clone()),
            pump(child.stderr.take().expect("piped stderr"), output.clone()),
        ];
        Self {
            child,
            output,
            readers,
        }
    }

    /// Fails if the process has exited (it must keep polling for the next event).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll the function process") {
            panic!(
                "the function binary exited ({status}); it printed:\n{}",
                self.text()
            );
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Kills the process and returns everything it printed, to the last byte.
    pub fn stop(mut self) -> String {
        self.kill();
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        self.text()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies a pipe into the shared buffer until end of file (the process exited).
fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Fails unless every non-empty line of `output` is a JSON object (Lambda's JSON log format).
pub fn assert_json_lines(output: &str) {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        !lines.is_empty(),
        "the function printed nothing: a scan would be meaningless"
    );
    for line in &lines {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(parsed.is_object(), "not a JSON object: {line}");
    }
}
