#!/usr/bin/env bash
# Installs the local AWS stacks and tools, once each:
#  - moto and the tools of tools/requirements.txt into .venv (a stamp holding the
#    requirements' hash makes reruns instant);
#  - fakecloud, pinned, into ~/.cache/trustlink (tools/setup_fakecloud.sh: shared by every
#    clone on this machine, instant once installed, resumed if a build was interrupted).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.requirements.sha256"
want=$(sha256sum tools/requirements.txt | cut -d' ' -f1)

if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; }; then
  python=${PYTHON:-python3}
  command -v "$python" >/dev/null || { echo "setup: $python not found; install Python 3.10+" >&2; exit 1; }
  echo "setup: installing the local AWS stack into $venv (moto, cfn-lint, aws-sam-cli, cargo-lambda, awscli)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
  for tool in moto_server cfn-lint sam cargo-lambda aws; do
    [ -x "$venv/bin/$tool" ] || { echo "setup: $tool missing from $venv/bin after install" >&2; exit 1; }
  done
  echo "$want" > "$stamp"
  echo "setup: done"
fi

tools/setup_fakecloud.sh
