#!/usr/bin/env bash
# Start/stop the five Aduan services as separate OS processes (the local stand-in for the
# five deployments in deploy/k8s). Idempotent: a service whose /health answers is left alone.
#   services.sh start|stop|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$ROOT/.run"
PY="$ROOT/.venv/bin/python"
mkdir -p "$RUN/logs" "$RUN/pids"
export ADUAN_SINKS_DIR="${ADUAN_SINKS_DIR:-$RUN/sinks}"

# name module port-variable default-port
# `sinks` is the local stand-in for the e-mail, SMS, WhatsApp, Messenger/Instagram, X and push
# providers (aduan_notifier.sinks): the notifier's defaults send there, and its front page
# lists what would have been sent. Started first so the notifier's first messages land.
SERVICES=(
  "sinks aduan_notifier.sinks ADUAN_SINKS_HTTP_PORT 8090"
  "gateway aduan_gateway ADUAN_GATEWAY_PORT 8000"
  "intake aduan_intake ADUAN_INTAKE_PORT 8001"
  "workflow aduan_workflow ADUAN_WORKFLOW_PORT 8002"
  "notifier aduan_notifier ADUAN_NOTIFIER_PORT 8003"
  "portal aduan_portal ADUAN_PORTAL_PORT 8080"
)

port_of() { local var=$1 def=$2; echo "${!var:-$def}"; }

healthy() { curl -fsS -m 3 "http://127.0.0.1:$1/health" >/dev/null 2>&1; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

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
    # setsid: the service gets its own process group, so `stop` reaches its children too.
    setsid nohup "$PY" -m "$module" >>"$RUN/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$pidf"
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
  status
}

stop() {
  for entry in "${SERVICES[@]}"; do
    read -r name _ _ _ <<<"$entry"
    local pidf="$RUN/pids/$name.pid"
    if alive "$pidf"; then kill -TERM -- "-$(cat "$pidf")" 2>/dev/null || kill -TERM "$(cat "$pidf")" || true; fi
  done
  for entry in "${SERVICES[@]}"; do
    read -r name _ _ _ <<<"$entry"
    local pidf="$RUN/pids/$name.pid" waited=0
    while alive "$pidf" && ((waited < 30)); do sleep 0.5; waited=$((waited + 1)); done
    if alive "$pidf"; then
      echo "$name did not stop in 15 s; killing" >&2
      kill -KILL -- "-$(cat "$pidf")" 2>/dev/null || true
    fi
    rm -f "$pidf"
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
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
