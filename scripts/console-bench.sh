#!/usr/bin/env bash
# Benchmark of the console's pages: seeds DAYS days of PER_DAY leads (default 7 x 100) into
# a DynamoDB Local of its own, then times each page warm over HTTP and counts the DynamoDB
# calls one request makes (examples/console_bench.rs). Results in BENCHMARKS.md.
# Usage: scripts/console-bench.sh [days] [per_day] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
cargo build --release --example console_bench -q
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" RUST_LOG=error \
  ./target/release/examples/console_bench "${1:-7}" "${2:-100}" "${3:-30}"
