#!/usr/bin/env bash
# Load test: the release server on DynamoDB Local, one hot 4-rep pool per config in
# config/load/ (round robin, round robin with caps and hours, weighted, least loaded), at 1, 8,
# 32 and 64 concurrent clients. The client is examples/load.rs: every lead is a new person at a
# new company (a fixed body would be a double click, answered without routing). Prints throughput, latency, errors, the server's conflict
# retries per lead and refusals (from GET /admin/metrics), and the server's peak RSS.
# Usage: scripts/load.sh [requests-per-level, default 2000] [config ...]
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000}"
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(config/load/round-robin.yaml config/load/round-robin-caps.yaml config/load/weighted.yaml config/load/least-loaded.yaml)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ddb_port=$(free_port)
scripts/dynamodb-local.sh start "$ddb_port"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; scripts/dynamodb-local.sh stop "$ddb_port"' EXIT
cargo build --release --bin leadrouter --example load -q
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" RUST_LOG=warn
bin=./target/release/leadrouter
metric() { curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$api_port/admin/metrics" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
printf '%-20s %-8s %-10s %-8s %-8s %-7s %-12s %s\n' config clients leads/s p50_ms p99_ms errors retries/lead refusals
for config in "${configs[@]}"; do
  export TABLE_NAME="load-$(basename "$config" .yaml)-$(date +%s)"
  api_port=$(free_port)
  $bin create-tables >/dev/null
  $bin load-config "$config" >/dev/null
  key=$($bin keys create --role source --name load 2>/dev/null)
  admin=$($bin keys create --role admin --name load-admin 2>/dev/null)
  $bin serve --addr "127.0.0.1:$api_port" & server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api_port/health" >/dev/null && break; sleep 0.2; done
  for c in 1 8 32 64; do
    leads0=$(metric leads); retries0=$(metric conflict_retries)
    refusals0=$(( $(metric cap_refusals) + $(metric roster_refusals) + $(metric load_refusals) ))
    read -r rps p50 p99 errors < <(./target/release/examples/load "http://127.0.0.1:$api_port" "$key" "$requests" "$c")
    leads=$(( $(metric leads) - leads0 )); retries=$(( $(metric conflict_retries) - retries0 ))
    refusals=$(( $(metric cap_refusals) + $(metric roster_refusals) + $(metric load_refusals) - refusals0 ))
    per=$(python3 -c "print(f'{$retries / max($leads, 1):.3f}')")
    printf '%-20s %-8s %-10s %-8s %-8s %-7s %-12s %s\n' "$(basename "$config" .yaml)" "$c" "$rps" "$p50" "$p99" "$errors" "$per" "$refusals"
  done
  echo "$(basename "$config" .yaml): server peak RSS $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
  kill $server; wait $server 2>/dev/null || true; server=
done
