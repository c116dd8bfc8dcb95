#!/usr/bin/env bash
# Checks what `sam build` produced: every function of the template has a bootstrap in the
# build directory, nothing else does, and each bootstrap is an executable 64-bit
# little-endian ELF for aarch64 (what Lambda's arm64 provided.al2023 runtime runs).
#
#   tools/check_build.sh [TEMPLATE] [BUILD_DIR]    (defaults: infra/template.yaml .aws-sam/build)
set -euo pipefail
cd "$(dirname "$0")/.."

template=${1:-infra/template.yaml}
build_dir=${2:-.aws-sam/build}
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3

fail=0
error() { echo "check-build: $*" >&2; fail=1; }

[ -f "$template" ] || { echo "check-build: no template $template" >&2; exit 1; }
[ -d "$build_dir" ] || { echo "check-build: no build directory $build_dir; run \`make build\`" >&2; exit 1; }

# The template's functions (logical id and declared architecture), read with a YAML loader
# that accepts CloudFormation's short-form intrinsics (!Ref, !Sub, ...).
functions=$("$python" - "$template" <<'PY'
import sys
import yaml

class Loader(yaml.SafeLoader):
    pass

Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
with open(sys.argv[1]) as f:
    t = yaml.load(f, Loader=Loader) or {}
globals_arch = ((t.get("Globals") or {}).get("Function") or {}).get("Architectures")
for logical_id, r in sorted((t.get("Resources") or {}).items()):
    r = r or {}
    props = r.get("Properties") or {}
    if props.get("PackageType") == "Image":
        continue
    if r.get("Type") == "AWS::Serverless::Function" or (
        r.get("Type") == "AWS::Lambda::Function" and (r.get("Metadata") or {}).get("BuildMethod")
    ):
        arch = props.get("Architectures") or globals_arch or ["x86_64"]
        print(logical_id, arch[0] if isinstance(arch, list) and arch else arch)
PY
)
[ -n "$functions" ] || { echo "check-build: $template declares no function" >&2; exit 1; }

# Reads `count` bytes at `offset` of a file as hex, with only POSIX tools.
bytes() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

check_bootstrap() {
  local id=$1 f=$2 what="" before=$fail
  fail=0
  if [ ! -f "$f" ]; then error "$id: no bootstrap ($f)"; return; fi
  [ -x "$f" ] || error "$id: $f is not executable"
  # e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1); e_type (16): EXEC (2) or DYN (3, PIE);
  # e_machine (18): EM_AARCH64 = 0xB7.
  [ "$(bytes "$f" 0 6)" = 7f454c460201 ] || error "$id: $f is not a 64-bit little-endian ELF"
  case "$(bytes "$f" 16 2)" in 0200 | 0300) ;; *) error "$id: $f is not an ELF executable" ;; esac
  [ "$(bytes "$f" 18 2)" = b700 ] || error "$id: $f is not for aarch64 (e_machine $(bytes "$f" 18 2))"
  if command -v file >/dev/null; then
    what=$(file -b "$f")
    case "$what" in *"ARM aarch64"*) ;; *) error "$id: file(1) says: $what" ;; esac
  fi
  [ "$fail" -ne 0 ] || echo "check-build: $id: $(wc -c <"$f" | tr -d ' ') bytes, ELF aarch64${what:+ ($what)}"
  [ "$before" -eq 0 ] || fail=1
}

declare -A wanted=()
while read -r id arch; do
  wanted[$id]=1
  [ "$arch" = arm64 ] || error "$id: the template declares architecture $arch, not arm64"
  check_bootstrap "$id" "$build_dir/$id/bootstrap"
done <<<"$functions"

# Every bootstrap built must be one of the template's functions (no stale leftovers).
shopt -s nullglob
for f in "$build_dir"/*/bootstrap; do
  id=$(basename "$(dirname "$f")")
  [ -n "${wanted[$id]:-}" ] || error "$id: $f is not a function of $template (stale build?)"
done

if [ "$fail" -ne 0 ]; then
  echo "check-build: FAILED" >&2
  exit 1
fi
echo "check-build: ok: ${#wanted[@]} function(s) of $template built as arm64 bootstraps in $build_dir"
