#!/usr/bin/env bash
# Load test: the release server on DynamoDB Local, one hot 4-rep round-robin pool, `hey` at
# 1, 8, 32 and 64 concurrent clients. Prints throughput, latency and the server's peak RSS.
# Usage: scripts/load.sh [requests-per-level, default 2000]
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000}"
command -v hey >/dev/null || { apt-get update -qq && apt-get install -y -qq hey >/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ddb_port=$(free_port); api_port=$(free_port)
scripts/dynamodb-local.sh start "$ddb_port"
cargo build --release --bin leadrouter -q
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" TABLE_NAME="load-$(date +%s)" RUST_LOG=warn
bin=./target/release/leadrouter
$bin create-tables >/dev/null
$bin load-config config/load-test.yaml >/dev/null
key=$($bin keys create --kind source --name load 2>/dev/null)
$bin serve --addr "127.0.0.1:$api_port" & server=$!
trap 'kill $server 2>/dev/null; scripts/dynamodb-local.sh stop "$ddb_port"' EXIT
sleep 1
body='{"email":"load@acme-load.com","company":"Acme","employees":"12","country":"US"}'
printf '%-8s %-10s %-10s %-10s %s\n' clients leads/s p50_ms p99_ms errors
for c in 1 8 32 64; do
  out=$(hey -n "$requests" -c "$c" -m POST -T application/json -H "X-Source-Key: $key" -d "$body" "http://127.0.0.1:$api_port/leads")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '/ 50%/ {print $3*1000}' <<<"$out")
  p99=$(awk '/ 99%/ {print $3*1000}' <<<"$out")
  # hey sends requests/c per client (rounded down); count what was not a 201 among what it sent.
  bad=$(awk '/^  \[[0-9]+\]/ && !/\[201\]/ {n += $2} END {print n + 0}' <<<"$out")
  failed=$(awk '/Error distribution/ {e=1; next} e && /\[[0-9]+\]/ {n += substr($1, 2, length($1) - 2)} END {print n + 0}' <<<"$out")
  printf '%-8s %-10s %-10s %-10s %s\n' "$c" "$rps" "$p50" "$p99" "$((bad + failed))"
done
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
