#!/usr/bin/env bash
# What each kind of DynamoDB call costs DynamoDB Local (examples/local_probe.rs): p50 at one
# client, rate at 32, and the JVM's CPU per call, against a fresh DynamoDB Local.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
cargo build --release --example local_probe -q
JVM_PID="$(cat ".local/dynamodb-$port.pid")" DYNAMODB_ENDPOINT="http://127.0.0.1:$port" \
  ./target/release/examples/local_probe
