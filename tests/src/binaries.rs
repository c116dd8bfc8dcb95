//! The functions' binaries, for tests of this crate that run them as Lambda does (cargo builds
//! a package's binaries only for that package's own integration tests).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::workspace_root;

/// The functions whose binaries [`binary`] builds.
const FUNCTIONS: [&str; 3] = ["trust-link", "rotator", "link-check"];

/// The path of function `name`'s binary in this build profile, built (all three) on first use.
pub fn binary(name: &str) -> PathBuf {
    assert!(FUNCTIONS.contains(&name), "not a function binary: {name}");
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build).join(name)
}

fn build() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>")
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // The whole workspace selected, as `cargo test --workspace` selects it: the same feature
    // set, so the dependencies already built are reused.
    build
        .current_dir(workspace_root())
        .args(["build", "--workspace"]);
    for name in FUNCTIONS {
        build.args(["--bin", name]);
    }
    if dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building the function binaries failed");
    dir
}
