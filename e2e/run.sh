#!/usr/bin/env bash
# End-to-end MCP suite (`make e2e`): builds feedbackd, installs the pinned npm
# clients when missing, and runs node's test runner. Each test file starts its
# own feedbackd (DATA_DIR in a temporary directory, API_KEYS set, LISTEN_ADDR on
# a free loopback port) and stops it when done. test/apps.test.js also bundles
# an MCP Apps host (apps/host.js, with esbuild) and drives it in headless
# Chromium (/usr/bin/chromium, or $CHROMIUM).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd .. && go build -o "$work/feedbackd" ./cmd/feedbackd)
export FEEDBACKD_BIN="$work/feedbackd"

node --test --test-concurrency=1 test/*.test.js
