#!/usr/bin/env bash
# Benchmark of the routing report: seeds DAYS days of PER_DAY leads (default 30 x 1,000)
# through the real intake into a DynamoDB Local of its own, then times the report over the
# whole period and prints what it read (examples/report_bench.rs). Results in BENCHMARKS.md.
# Usage: scripts/report-bench.sh [days] [per_day] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
cargo build --release --example report_bench -q
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" RUST_LOG=error \
  ./target/release/examples/report_bench "${1:-30}" "${2:-1000}" "${3:-5}"
