#!/usr/bin/env bash
# The chaos test: start a fresh local cluster, run feedbackd-chaos against it
# (steady load through nginx while one edge, notifier, expirer and NATS node
# are SIGKILLed and restarted), print the counts, stop the cluster.
#
#   deploy/local/chaos.sh                 a 60 s run (what CI runs)
#   CHAOS_DURATION=10m deploy/local/chaos.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export FEEDBACKD_CLUSTER_DIR=${FEEDBACKD_CLUSTER_DIR:-$ROOT/deploy/local/run}
CLUSTER=deploy/local/cluster.sh

bash $CLUSTER clean >/dev/null 2>&1 || true
trap 'bash $CLUSTER down >/dev/null 2>&1 || true' EXIT
bash $CLUSTER up
go build -o "$FEEDBACKD_CLUSTER_DIR/bin/feedbackd-chaos" ./cmd/feedbackd-chaos
"$FEEDBACKD_CLUSTER_DIR/bin/feedbackd-chaos" \
  -key-file "$FEEDBACKD_CLUSTER_DIR/api-key" \
  -cluster "$CLUSTER" \
  -duration "${CHAOS_DURATION:-60s}" \
  -rate "${CHAOS_RATE:-4}" \
  -kill-every "${CHAOS_KILL_EVERY:-8s}"
# A cluster built with -race (make test) fails on any race its processes saw.
if grep -l "WARNING: DATA RACE" "$FEEDBACKD_CLUSTER_DIR"/*.log 2>/dev/null; then
  echo "chaos: data race reported by the processes above" >&2
  exit 1
fi
