#!/usr/bin/env bash
# Start/stop the five Aduan services as separate OS processes (the local stand-in for the
# deployments in deploy/k8s), plus the gateway's photo worker (`photos`). Idempotent: a service whose /health answers is left alone.
#   services.sh start|stop|status|supervise
# `start` also starts a supervisor (unless ADUAN_SUPERVISE=0): like Kubernetes with the
# manifests' liveness probes, it restarts a service whose process died or whose /livez
# failed three checks in a row (10 s apart), and logs each restart to .run/logs/supervisor.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$ROOT/.run"
PY="$ROOT/.venv/bin/python"
mkdir -p "$RUN/logs" "$RUN/pids"
export ADUAN_SINKS_DIR="${ADUAN_SINKS_DIR:-$RUN/sinks}"
# The gateway's photo worker (faces and plates blurred) runs as its own process, `photos`
# below, as the gateway-photos Deployment does: not inside the gateway's API process.
export ADUAN_GATEWAY_PHOTO_WORKER_IN_PROCESS="${ADUAN_GATEWAY_PHOTO_WORKER_IN_PROCESS:-false}"
# The gateway answers on one port from two worker processes (uvicorn's supervisor), so its
# reads use both cores of a small host: 500 reads/s had a p99 of 267-495 ms from one
# process, 18 ms from two (docs/performance.md). In Kubernetes: one worker, more replicas.
export ADUAN_GATEWAY_HTTP_WORKERS="${ADUAN_GATEWAY_HTTP_WORKERS:-2}"
# A local Open311 key, so an app developer can file through the root on a laptop exactly as
# docs/open311.md shows (a real installation lists its own keys; never this one).
export ADUAN_INTAKE_OPEN311_API_KEYS="${ADUAN_INTAKE_OPEN311_API_KEYS:-[\"demo-open311-key\"]}"

# name module port-variable default-port
# `sinks` is the local stand-in for the e-mail, SMS, WhatsApp, Messenger/Instagram, X and push
# providers (aduan_notifier.sinks): the notifier's defaults send there, and its front page
# lists what would have been sent. Started first so the notifier's first messages land.
SERVICES=(
  "sinks aduan_notifier.sinks ADUAN_SINKS_HTTP_PORT 8090"
  "gateway aduan_gateway ADUAN_GATEWAY_PORT 8000"
  "photos aduan_gateway.photos ADUAN_GATEWAY_PHOTOS_PORT 8004"
  "intake aduan_intake ADUAN_INTAKE_PORT 8001"
  "workflow aduan_workflow ADUAN_WORKFLOW_PORT 8002"
  "notifier aduan_notifier ADUAN_NOTIFIER_PORT 8003"
  "portal aduan_portal ADUAN_PORTAL_PORT 8080"
)

port_of() { local var=$1 def=$2; echo "${!var:-$def}"; }

healthy() { curl -fsS -m 3 "http://127.0.0.1:$1/health" >/dev/null 2>&1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Liveness, not readiness: a dependency outage makes /health fail on every service at once,
# and restarting them all would not bring PostgreSQL or Kafka back. The sinks (a stand-in
# for outside providers, no background loops) have only /health.
live() {
  local path=/livez; [[ $2 == sinks ]] && path=/health
  curl -fsS -m 4 "http://127.0.0.1:$1$path" >/dev/null 2>&1
}

launch() {
  local name=$1 module=$2
  # setsid: the service gets its own process group, so `stop` reaches its children too.
  setsid nohup "$PY" -m "$module" >>"$RUN/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}

terminate() {
  local name=$1 pidf="$RUN/pids/$1.pid" waited=0
  if alive "$pidf"; then
    kill -TERM -- "-$(cat "$pidf")" 2>/dev/null || kill -TERM "$(cat "$pidf")" || true
    kill -CONT -- "-$(cat "$pidf")" 2>/dev/null || true # a frozen process must run to stop
  fi
  while alive "$pidf" && ((waited < 30)); do sleep 0.5; waited=$((waited + 1)); done
  if alive "$pidf"; then
    echo "$name did not stop in 15 s; killing" >&2
    kill -KILL -- "-$(cat "$pidf")" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

supervise() {
  # A supervisor must outlive any command that fails here (a curl to a frozen process, say).
  set +e +o pipefail
  local -A failures=() started=()
  local grace=${ADUAN_SUPERVISE_GRACE_S:-60}
  while true; do
    sleep "${ADUAN_SUPERVISE_PERIOD_S:-10}"
    for entry in "${SERVICES[@]}"; do
      read -r name module var def <<<"$entry"
      local port pidf why=""
      port=$(port_of "$var" "$def"); pidf="$RUN/pids/$name.pid"
      [[ -f "$pidf" ]] || continue # stopped on purpose (`stop` removes the pid file)
      if ! alive "$pidf"; then
        why="process exited"
      elif ((SECONDS < ${started[$name]:-0} + grace)); then
        continue # restarted a moment ago: still starting (migrations, joining groups)
      elif live "$port" "$name"; then
        failures[$name]=0
        continue
      else
        failures[$name]=$((${failures[$name]:-0} + 1))
        ((failures[$name] >= ${ADUAN_SUPERVISE_FAILURES:-3})) || continue
        why="/livez failed ${failures[$name]} checks in a row: $(curl -sS -m 4 "http://127.0.0.1:$port/livez" 2>&1 | head -c 300)"
      fi
      echo "$(date -u +%FT%TZ) supervisor: restarting $name ($why)"
      terminate "$name"
      launch "$name" "$module"
      failures[$name]=0
      started[$name]=$SECONDS
    done
  done
}

start() {
  [[ -x "$PY" ]] || { echo "no virtualenv at $ROOT/.venv: run 'make deps' first" >&2; exit 1; }
  for entry in "${SERVICES[@]}"; do
    read -r name module var def <<<"$entry"
    local port pidf
    port=$(port_of "$var" "$def"); pidf="$RUN/pids/$name.pid"
    if alive "$pidf"; then continue; fi
    if healthy "$port"; then
      echo "$name: something already answers on :$port; leaving it" >&2
      continue
    fi
    launch "$name" "$module"
  done
  local deadline=$((SECONDS + ${ADUAN_START_TIMEOUT:-180})) failed=0
  for entry in "${SERVICES[@]}"; do
    read -r name module var def <<<"$entry"
    local port pidf
    port=$(port_of "$var" "$def"); pidf="$RUN/pids/$name.pid"
    until healthy "$port"; do
      if [[ -f "$pidf" ]] && ! alive "$pidf"; then
        echo "$name exited; last log lines:" >&2; tail -n 30 "$RUN/logs/$name.log" >&2
        failed=1; break
      fi
      if ((SECONDS > deadline)); then
        echo "$name not healthy on :$port in time; last log lines:" >&2
        tail -n 30 "$RUN/logs/$name.log" >&2; failed=1; break
      fi
      sleep 1
    done
  done
  ((failed == 0)) || exit 1
  if [[ "${ADUAN_SUPERVISE:-1}" != "0" ]] && ! alive "$RUN/pids/supervisor.pid"; then
    setsid nohup "$0" supervise >>"$RUN/logs/supervisor.log" 2>&1 </dev/null &
    echo $! >"$RUN/pids/supervisor.pid"
  fi
  status
}

stop() {
  # The supervisor first, so that it does not restart what is being stopped.
  if alive "$RUN/pids/supervisor.pid"; then
    kill -TERM -- "-$(cat "$RUN/pids/supervisor.pid")" 2>/dev/null || kill -TERM "$(cat "$RUN/pids/supervisor.pid")" || true
  fi
  rm -f "$RUN/pids/supervisor.pid"
  for entry in "${SERVICES[@]}"; do
    read -r name _ _ _ <<<"$entry"
    local pidf="$RUN/pids/$name.pid"
    if alive "$pidf"; then kill -TERM -- "-$(cat "$pidf")" 2>/dev/null || kill -TERM "$(cat "$pidf")" || true; fi
  done
  for entry in "${SERVICES[@]}"; do
    read -r name _ _ _ <<<"$entry"
    terminate "$name"
  done
}

status() {
  local rc=0
  for entry in "${SERVICES[@]}"; do
    read -r name _ var def <<<"$entry"
    local port; port=$(port_of "$var" "$def")
    if healthy "$port"; then
      printf '  %-9s http://127.0.0.1:%s  (health ok)\n' "$name" "$port"
    else
      printf '  %-9s http://127.0.0.1:%s  (not healthy)\n' "$name" "$port"; rc=1
    fi
  done
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  supervise) supervise ;;
  *) echo "usage: $0 start|stop|status|supervise" >&2; exit 2 ;;
esac
