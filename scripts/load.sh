#!/usr/bin/env bash
# Load test: the release server on DynamoDB Local, one hot 4-rep pool per config in
# config/load/ (round robin, round robin with caps and hours, weighted, least loaded), `hey` at
# 1, 8, 32 and 64 concurrent clients. Prints throughput, latency, errors, the server's conflict
# retries per lead and refusals (from GET /admin/metrics), and the server's peak RSS.
# Usage: scripts/load.sh [requests-per-level, default 2000] [config ...]
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-2000}"
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(config/load/round-robin.yaml config/load/round-robin-caps.yaml config/load/weighted.yaml config/load/least-loaded.yaml)
command -v hey >/dev/null || { apt-get update -qq && apt-get install -y -qq hey >/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ddb_port=$(free_port)
scripts/dynamodb-local.sh start "$ddb_port"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; scripts/dynamodb-local.sh stop "$ddb_port"' EXIT
cargo build --release --bin leadrouter -q
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port" RUST_LOG=warn
bin=./target/release/leadrouter
metric() { curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$api_port/admin/metrics" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
body='{"email":"load@acme-load.com","company":"Acme","employees":"12","country":"US"}'
printf '%-20s %-8s %-10s %-8s %-8s %-7s %-12s %s\n' config clients leads/s p50_ms p99_ms errors retries/lead refusals
for config in "${configs[@]}"; do
  export TABLE_NAME="load-$(basename "$config" .yaml)-$(date +%s)"
  api_port=$(free_port)
  $bin create-tables >/dev/null
  $bin load-config "$config" >/dev/null
  key=$($bin keys create --kind source --name load 2>/dev/null)
  admin=$($bin keys create --kind admin --name load-admin 2>/dev/null)
  $bin serve --addr "127.0.0.1:$api_port" & server=$!
  sleep 1
  for c in 1 8 32 64; do
    leads0=$(metric leads); retries0=$(metric conflict_retries)
    refusals0=$(( $(metric cap_refusals) + $(metric roster_refusals) + $(metric load_refusals) ))
    out=$(hey -n "$requests" -c "$c" -m POST -T application/json -H "X-Source-Key: $key" -d "$body" "http://127.0.0.1:$api_port/leads")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '/ 50%/ {print $3*1000}' <<<"$out")
    p99=$(awk '/ 99%/ {print $3*1000}' <<<"$out")
    # Count what was not a 201 among what hey sent, plus transport errors.
    bad=$(awk '/^  \[[0-9]+\]/ && !/\[201\]/ {n += $2} END {print n + 0}' <<<"$out")
    failed=$(awk '/Error distribution/ {e=1; next} e && /\[[0-9]+\]/ {n += substr($1, 2, length($1) - 2)} END {print n + 0}' <<<"$out")
    leads=$(( $(metric leads) - leads0 )); retries=$(( $(metric conflict_retries) - retries0 ))
    refusals=$(( $(metric cap_refusals) + $(metric roster_refusals) + $(metric load_refusals) - refusals0 ))
    per=$(python3 -c "print(f'{$retries / max($leads, 1):.3f}')")
    printf '%-20s %-8s %-10s %-8s %-8s %-7s %-12s %s\n' "$(basename "$config" .yaml)" "$c" "$rps" "$p50" "$p99" "$((bad + failed))" "$per" "$refusals"
  done
  echo "$(basename "$config" .yaml): server peak RSS $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
  kill $server; wait $server 2>/dev/null || true; server=
done
