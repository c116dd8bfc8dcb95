#!/usr/bin/env bash
# Installs the pinned fakecloud (a local AWS that evaluates IAM trust policies; AGPL-3.0, run
# only as a separate test process, never linked into trustlink) into a cache outside the
# checkout, keyed by version, so every clone on this machine (CI's clean clones too) shares it:
#
#   ~/.cache/trustlink/fakecloud-<version>/bin/fakecloud   the binary
#   ~/.cache/trustlink/fakecloud-<version>/.installed      stamp, written only after a good install
#   ~/.cache/trustlink/fakecloud-<version>-target/         cargo's build directory, kept
#
# Instant when the stamp is there and the binary reports that version. Otherwise (first run,
# or a build that was interrupted: no stamp) it runs `cargo install`; the kept build
# directory makes cargo resume where it stopped instead of starting over. It is a large build
# (about 790 crates; tens of minutes on 2 cores), so it reports progress. Concurrent runs wait
# for each other (flock).
#
# Settings: TRUSTLINK_CACHE (default ~/.cache/trustlink), FAKECLOUD_VERSION (the pin, below).
set -euo pipefail

version=${FAKECLOUD_VERSION:-0.51.0}
cache=${TRUSTLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trustlink}
root="$cache/fakecloud-$version"
target="$cache/fakecloud-$version-target"
bin="$root/bin/fakecloud"
stamp="$root/.installed"
log="$cache/fakecloud-$version-build.log"

installed() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -x "$bin" ] &&
    [ "$("$bin" --version 2>/dev/null)" = "fakecloud $version" ]
}

installed && exit 0

# One line every 50 crates with the elapsed time, any error line, and cargo's "Blocking waiting
# for file lock" (another build of the same directory is running: this one waits for it), for
# logs without a terminal.
progress() {
  local n=0 line
  while IFS= read -r line; do
    case "$line" in
      *" Compiling "*)
        n=$((n + 1))
        if [ $((n % 50)) -eq 0 ]; then
          echo "setup: fakecloud: $n crates compiled ($((SECONDS - start)) s)"
        fi
        ;;
      error* | *"Blocking waiting"*) echo "setup: fakecloud: $line" ;;
    esac
  done
}

command -v cargo >/dev/null || { echo "setup: cargo not found; fakecloud is built with cargo" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/fakecloud-$version.lock"
if ! flock -n 9; then
  echo "setup: another fakecloud $version install is running; waiting for it ($cache/fakecloud-$version.lock)"
  flock 9
  installed && exit 0
fi

if [ -d "$target" ]; then
  echo "setup: resuming the fakecloud $version build (no stamp: an earlier build did not finish) in $target"
else
  echo "setup: building fakecloud $version (about 790 crates; tens of minutes on 2 cores) into $root"
fi
[ -t 2 ] || echo "setup: full build log: $log"
start=$SECONDS
rm -f "$stamp"
# --locked: fakecloud's own Cargo.lock, so the same sources every time. --force: without a
# stamp, what is in the root is not trusted (cargo would otherwise keep a binary it believes
# installed); the kept build directory makes that a relink, not a rebuild. cargo install
# replaces the binary only when the build succeeds. --debug without debug info: an emulator
# answering tests needs no optimizer, and the build takes a fraction of a release build's
# time on a 2-core machine (a cold release build did not finish within 66 minutes here).
export CARGO_PROFILE_DEV_DEBUG=0
set +e
if [ -t 2 ]; then
  # A terminal: cargo's own progress bar ("Building [====>   ] 312/790").
  cargo install fakecloud --version "$version" --locked --force --debug --root "$root" --target-dir "$target"
  status=$?
else
  # A log (CI): one line every 50 crates, with the elapsed time.
  cargo install fakecloud --version "$version" --locked --force --debug --root "$root" --target-dir "$target" 2>&1 |
    tee "$log" |
    progress
  status=${PIPESTATUS[0]}
fi
set -e
if [ "$status" -ne 0 ]; then
  echo "setup: building fakecloud $version failed (exit $status); see $log. Rerun make setup to resume." >&2
  exit 1
fi
got=$("$bin" --version 2>/dev/null || true)
if [ "$got" != "fakecloud $version" ]; then
  echo "setup: $bin reports '$got', expected 'fakecloud $version'" >&2
  exit 1
fi
echo "$version" > "$stamp"
echo "setup: fakecloud $version installed in $((SECONDS - start)) s: $bin"
