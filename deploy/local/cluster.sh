#!/usr/bin/env bash
# A feedbackd cluster as processes on loopback: a 3-node NATS JetStream cluster
# (the `feedbackd nats` role, KV replicas 3), two edges, two notifiers, two
# expirers, two dispatchers, and nginx in front on one public address.
#
#   deploy/local/cluster.sh up        build, start everything, wait until ready
#   deploy/local/cluster.sh down      stop everything (data kept in deploy/local/run)
#   deploy/local/cluster.sh status    what runs
#   deploy/local/cluster.sh kill  N   SIGKILL one process (nats-1, edge-2, ...)
#   deploy/local/cluster.sh start N   start one process again
#   deploy/local/cluster.sh clean     down, then remove all state
#
# Topology and ports (keep deploy/docker-compose.yml in step):
#   nats-1..3   clients 127.0.0.1:4241-4243, routes 127.0.0.1:6241-6243, monitoring 127.0.0.1:8221-8223
#   edge-1..2   127.0.0.1:8801-8802
#   notifier-1..2 127.0.0.1:8811-8812
#   expirer-1..2  127.0.0.1:8821-8822 (health, ready, metrics)
#   dispatcher-1..2 127.0.0.1:8831-8832 (health, ready, metrics); channel
#               defaults (NOTIFY_WEBHOOK_URL, TELEGRAM_BOT_TOKEN, ...) pass
#               through from the environment to edges and dispatchers
#   nginx       127.0.0.1:${FEEDBACKD_CLUSTER_PORT:-8780}  (/ws → notifiers, rest → edges)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${FEEDBACKD_CLUSTER_DIR:-$ROOT/deploy/local/run}
BIN=$RUN/bin/feedbackd
PORT=${FEEDBACKD_CLUSTER_PORT:-8780}
PUBLIC=http://127.0.0.1:$PORT
ROUTES=nats://127.0.0.1:6241,nats://127.0.0.1:6242,nats://127.0.0.1:6243
NATS_URLS=nats://127.0.0.1:4241,nats://127.0.0.1:4242,nats://127.0.0.1:4243
ALL="nats-1 nats-2 nats-3 edge-1 edge-2 notifier-1 notifier-2 expirer-1 expirer-2 dispatcher-1 dispatcher-2"
ROLES="edge-1 edge-2 notifier-1 notifier-2 expirer-1 expirer-2 dispatcher-1 dispatcher-2"
# The channel settings every edge (for the settings API and Telegram's
# webhook) and every dispatcher read, passed through when set.
NOTIFY_VARS="NOTIFY_WEBHOOK_URL NOTIFY_WEBHOOK_SECRET NOTIFY_WEBHOOK_EVENTS NOTIFY_WEBHOOK_INCLUDE_ANSWER TELEGRAM_BOT_TOKEN
  TELEGRAM_CHAT_ID TELEGRAM_API_URL TELEGRAM_MODE SLACK_WEBHOOK_URL NTFY_URL NTFY_TOKEN WEBHOOK_ALLOW_PRIVATE VAPID_SUBJECT
  VAPID_PRIVATE_KEY DISPATCH_MAX_AGE DISPATCH_WORKERS DISPATCH_SEND_TIMEOUT DISPATCH_ACK_WAIT"

log() { printf '[cluster] %s\n' "$*" >&2; }

pidof_name() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid" || true; }
alive() { local p; p=$(pidof_name "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# health_url NAME prints the URL that says NAME is ready.
health_url() {
  case $1 in
    nats-*) echo "http://127.0.0.1:822${1#nats-}/healthz" ;;
    edge-*) echo "http://127.0.0.1:880${1#edge-}/ready" ;;
    notifier-*) echo "http://127.0.0.1:881${1#notifier-}/ready" ;;
    expirer-*) echo "http://127.0.0.1:882${1#expirer-}/ready" ;;
    dispatcher-*) echo "http://127.0.0.1:883${1#dispatcher-}/ready" ;;
  esac
}

start_one() {
  local name=$1 n=${1##*-}
  if alive "$name"; then return 0; fi
  local -a envs=(DATA_DIR="$RUN/$name" LOG_FORMAT=json LOG_LEVEL="${LOG_LEVEL:-info}")
  local role
  case $name in
    nats-*) role=nats
      envs+=(NATS_SERVER_NAME="$name" NATS_LISTEN="127.0.0.1:424$n" NATS_CLUSTER_LISTEN="127.0.0.1:624$n" NATS_ROUTES="$ROUTES"
        NATS_MONITOR_LISTEN="127.0.0.1:822$n") ;;
    edge-*) role=edge; envs+=(LISTEN_ADDR="127.0.0.1:880$n") ;;
    notifier-*) role=notifier; envs+=(NOTIFIER_ADDR="127.0.0.1:881$n") ;;
    expirer-*) role=expirer; envs+=(EXPIRER_ADDR="127.0.0.1:882$n") ;;
    dispatcher-*) role=dispatcher; envs+=(DISPATCHER_ADDR="127.0.0.1:883$n") ;;
    *) log "unknown process $name"; return 1 ;;
  esac
  if [ "$role" != nats ]; then
    envs+=(NATS_URL="$NATS_URLS" KV_REPLICAS=3 API_KEYS="$(cat "$RUN/api-key")" PUBLIC_URL="$PUBLIC"
      NODE_NAME="$name" ALLOWED_ORIGINS="$PUBLIC" TRUSTED_PROXIES=127.0.0.1
      # Load and chaos runs come from one address; limits are per replica.
      RATE_LIMIT_CREATE="${RATE_LIMIT_CREATE:-off}" RATE_LIMIT_SUBMIT="${RATE_LIMIT_SUBMIT:-off}" RATE_LIMIT_PAGE="${RATE_LIMIT_PAGE:-off}")
    local v
    for v in $NOTIFY_VARS; do
      if [ -n "${!v:-}" ]; then envs+=("$v=${!v}"); fi
    done
  fi
  mkdir -p "$RUN/$name"
  env -i PATH="$PATH" HOME="${HOME:-/root}" "${envs[@]}" setsid "$BIN" "$role" >>"$RUN/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
}

wait_ready() {
  local name=$1 url deadline=$((SECONDS + 60))
  url=$(health_url "$name")
  while :; do
    if ! alive "$name"; then log "$name exited; last log lines:"; tail -5 "$RUN/$name.log" >&2; return 1; fi
    # NATS's /healthz is 200 once JetStream has a meta leader and is current.
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
      return 0
    fi
    [ $SECONDS -lt $deadline ] || { log "$name not ready after 60s"; return 1; }
    sleep 0.2
  done
}

nginx_conf() {
  mkdir -p "$RUN/nginx/tmp" "$RUN/nginx/logs"
  cat >"$RUN/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream edges { server 127.0.0.1:8801 max_fails=1 fail_timeout=2s; server 127.0.0.1:8802 max_fails=1 fail_timeout=2s; keepalive 64; }
  upstream notifiers { server 127.0.0.1:8811 max_fails=1 fail_timeout=2s; server 127.0.0.1:8812 max_fails=1 fail_timeout=2s; }
  server {
    listen 127.0.0.1:$PORT;
    client_max_body_size 64k;
    location /ws {
      proxy_pass http://notifiers;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout;
    }
    location / {
      proxy_pass http://edges;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 3;
    }
  }
}
CONF
}

nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

up() {
  mkdir -p "$RUN/bin"
  log "building feedbackd"
  (cd "$ROOT" && go build -o "$BIN" ./cmd/feedbackd)
  [ -s "$RUN/api-key" ] || "$BIN" apikey >"$RUN/api-key"
  for n in nats-1 nats-2 nats-3; do start_one "$n"; done
  for n in nats-1 nats-2 nats-3; do wait_ready "$n"; done
  for n in $ROLES; do start_one "$n"; done
  for n in $ROLES; do wait_ready "$n"; done
  nginx_conf
  if [ -f "$RUN/nginx/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx/nginx.pid")" 2>/dev/null; then
    "$(nginx_bin)" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -s reload
  else
    "$(nginx_bin)" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf"
  fi
  local deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null --max-time 1 "$PUBLIC/ready"; do
    [ $SECONDS -lt $deadline ] || { log "load balancer not ready"; return 1; }
    sleep 0.2
  done
  log "ready at $PUBLIC (API key in $RUN/api-key)"
}

down() {
  if [ -f "$RUN/nginx/nginx.pid" ]; then
    "$(nginx_bin)" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -s quit 2>/dev/null || true
  fi
  for n in $ALL; do
    local p; p=$(pidof_name "$n")
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for n in $ALL; do
    local p; p=$(pidof_name "$n")
    for _ in $(seq 50); do { [ -n "$p" ] && kill -0 "$p" 2>/dev/null; } || break; sleep 0.1; done
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
    rm -f "$RUN/$n.pid"
  done
  log "stopped"
}

status() {
  for n in $ALL; do
    if alive "$n"; then printf '%-11s up   pid %s\n' "$n" "$(pidof_name "$n")"; else printf '%-11s down\n' "$n"; fi
  done
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  kill) alive "$2" && kill -KILL "$(pidof_name "$2")"; rm -f "$RUN/$2.pid"; log "killed $2" ;;
  start) start_one "$2"; wait_ready "$2"; log "started $2" ;;
  clean) down; rm -rf "$RUN" ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
