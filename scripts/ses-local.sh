#!/usr/bin/env bash
# Installs the SES v2 emulator (the npm package `aws-ses-v2-local`) into .local/ses if it is
# missing; the email tests (tests/notify.rs) start it themselves on a free port.
# Usage: scripts/ses-local.sh install
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.local/ses"
if [ ! -x "$dir/node_modules/.bin/aws-ses-v2-local" ]; then
  mkdir -p "$dir"
  echo "installing the SES emulator (npm aws-ses-v2-local) into $dir" >&2
  (cd "$dir" && npm install --no-audit --no-fund --silent --prefix "$dir" aws-ses-v2-local@2.10.2 >&2)
fi
