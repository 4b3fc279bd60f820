#!/usr/bin/env bash
# What one lead costs (issue 15's figures): examples/lean.rs against a fresh DynamoDB Local, for
# one hot round-robin pool and the example config, at 1 and 32 clients: calls per lead by
# operation, sequential round trips, computed read and write units, $ per million leads,
# stored bytes, and the same run's PutItem and bare-ticket baselines. Then the api binary's
# peak RSS is in scripts/load.sh; its size in BENCHMARKS.md.
# Usage: scripts/lean-bench.sh [leads per level, default 400] [config ...]
# LEAN_LEAD=form posts a full demo-request form instead of a bare lead (email, name, company).
# LEAN_RETURNING=k makes every k-th lead a returning contact (the person of the lead before it).
set -euo pipefail
cd "$(dirname "$0")/.."
leads="${1:-400}"
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(config/load/round-robin.yaml config/example.yaml)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
cargo build --release --example lean -q
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port" RUST_LOG=warn
for config in "${configs[@]}"; do
  ./target/release/examples/lean "$config" "$leads" 1 32
done
