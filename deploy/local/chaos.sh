#!/usr/bin/env bash
# The chaos test: start a fresh local cluster, run feedbackd-chaos against it
# (steady load through nginx while one edge, notifier, expirer, dispatcher and
# NATS node are SIGKILLed and restarted), print the counts, stop the cluster.
#
# The dispatchers deliver every session event to an operator-wide webhook
# that feedbackd-chaos itself receives on 127.0.0.1:$CHAOS_WEBHOOK_PORT,
# signed with a secret made fresh for each run; the run fails if a question
# or an end never arrives, an event arrives under two webhook-ids, or a
# signature does not verify. One event in CHAOS_WEBHOOK_REFUSE_EVERY is
# answered 503 on its first attempt, so retries happen under the kills too,
# and every request is held open for up to CHAOS_WEBHOOK_DELAY (recorded on
# arrival, answered after), so a killed dispatcher dies with deliveries in
# flight that another one sends again after DISPATCH_ACK_WAIT.
#
#   deploy/local/chaos.sh                 a 60 s run (what CI runs)
#   CHAOS_DURATION=10m deploy/local/chaos.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export FEEDBACKD_CLUSTER_DIR=${FEEDBACKD_CLUSTER_DIR:-$ROOT/deploy/local/run}
CLUSTER=deploy/local/cluster.sh
WEBHOOK_ADDR=127.0.0.1:${CHAOS_WEBHOOK_PORT:-8795}

# The operator's default webhook (docs/dispatcher.md), passed by cluster.sh
# to every edge and dispatcher; the secret stays in the environment.
export NOTIFY_WEBHOOK_URL="http://$WEBHOOK_ADDR/hooks/feedbackd"
NOTIFY_WEBHOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
export NOTIFY_WEBHOOK_SECRET
export NOTIFY_WEBHOOK_EVENTS=session.created,session.completed,session.expired,session.cancelled
export WEBHOOK_ALLOW_PRIVATE=true
export DISPATCH_ACK_WAIT=${DISPATCH_ACK_WAIT:-45s}

bash $CLUSTER clean >/dev/null 2>&1 || true
trap 'bash $CLUSTER down >/dev/null 2>&1 || true' EXIT
mkdir -p "$FEEDBACKD_CLUSTER_DIR/bin"
go build -o "$FEEDBACKD_CLUSTER_DIR/bin/feedbackd-chaos" ./cmd/feedbackd-chaos
bash $CLUSTER up
"$FEEDBACKD_CLUSTER_DIR/bin/feedbackd-chaos" \
  -key-file "$FEEDBACKD_CLUSTER_DIR/api-key" \
  -cluster "$CLUSTER" \
  -duration "${CHAOS_DURATION:-60s}" \
  -rate "${CHAOS_RATE:-4}" \
  -kill-every "${CHAOS_KILL_EVERY:-7s}" \
  -webhook-addr "$WEBHOOK_ADDR" \
  -webhook-refuse-every "${CHAOS_WEBHOOK_REFUSE_EVERY:-25}" \
  -webhook-delay "${CHAOS_WEBHOOK_DELAY:-300ms}" \
  -dispatch-ack-wait "$DISPATCH_ACK_WAIT"
# A cluster built with -race (make test) fails on any race its processes saw.
if grep -l "WARNING: DATA RACE" "$FEEDBACKD_CLUSTER_DIR"/*.log 2>/dev/null; then
  echo "chaos: data race reported by the processes above" >&2
  exit 1
fi
