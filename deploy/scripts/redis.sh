#!/usr/bin/env bash
# Local Redis for development, data under .run/redis (AOF on, no RDB snapshots).
#
#   deploy/scripts/redis.sh start|stop|status
#
# Env: REDIS_PORT (6379).
set -euo pipefail

LOG_TAG=redis
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

REDIS_HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6379}"
DATA_DIR="${RUN_DIR}/redis"
PID_FILE="${PID_DIR}/redis.pid"
PORT_FILE="${PID_DIR}/redis.port"
LOG_FILE="${LOG_DIR}/redis.log"
READY_TIMEOUT=30

usage() {
  echo "usage: $0 start|stop|status" >&2
  exit 2
}

# ping PORT -> 0 when a Redis answers PONG on that port.
ping_port() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  [[ "$(timeout 3 redis-cli -h "${REDIS_HOST}" -p "$1" ping 2>/dev/null)" == PONG ]]
}

is_up() { ping_port "${REDIS_PORT}"; }

# Pid from our pid file, only if alive and really a redis-server.
our_pid() {
  local pid
  pid="$(read_pid "${PID_FILE}")"
  if pid_alive "${pid}" && grep -q 'redis-server' "/proc/${pid}/cmdline" 2>/dev/null; then
    printf '%s' "${pid}"
  fi
}

cmd_start() {
  ensure_run_dirs
  if is_up; then
    if [[ -n "$(our_pid)" ]]; then
      info "already running on ${REDIS_HOST}:${REDIS_PORT} (ours)"
    else
      info "a Redis already answers on ${REDIS_HOST}:${REDIS_PORT}; using it (not ours, will not stop it)"
    fi
    return 0
  fi
  if [[ -z "$(our_pid)" ]]; then
    rm -f "${PID_FILE}" "${PORT_FILE}"
    if port_open "${REDIS_HOST}" "${REDIS_PORT}"; then
      die "port ${REDIS_PORT} is taken by something that is not Redis (set REDIS_PORT)"
    fi
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
      apt_install redis-server
    fi
    mkdir -p "${DATA_DIR}"
    printf '%s\n' "${REDIS_PORT}" >"${PORT_FILE}"
    if ! redis-server --port "${REDIS_PORT}" --bind "${REDIS_HOST}" --daemonize yes \
      --pidfile "${PID_FILE}" --logfile "${LOG_FILE}" --dir "${DATA_DIR}" \
      --save '' --appendonly yes >/dev/null 2>&1 9>&-; then
      tail_log "${LOG_FILE}"
      die "redis-server failed to start"
    fi
  fi
  local waited=0
  until is_up; do
    if ((waited >= READY_TIMEOUT * 2)); then
      tail_log "${LOG_FILE}"
      die "no PONG from ${REDIS_HOST}:${REDIS_PORT} after ${READY_TIMEOUT}s"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  info "ready on ${REDIS_HOST}:${REDIS_PORT} (data ${DATA_DIR})"
}

cmd_stop() {
  local pid port
  pid="$(our_pid)"
  if [[ -z "${pid}" ]]; then
    rm -f "${PID_FILE}" "${PORT_FILE}"
    info "not started by us; nothing to stop"
    return 0
  fi
  port="$(read_pid "${PORT_FILE}")"
  timeout 10 redis-cli -h "${REDIS_HOST}" -p "${port:-${REDIS_PORT}}" shutdown nosave >/dev/null 2>&1 || true
  local waited=0
  while pid_alive "${pid}" && ((waited < 20)); do
    sleep 0.5
    waited=$((waited + 1))
  done
  if pid_alive "${pid}"; then
    err "redis pid ${pid} did not shut down; sending SIGTERM"
    kill -TERM "${pid}" 2>/dev/null || true
    sleep 2
    if pid_alive "${pid}"; then
      kill -KILL "${pid}" 2>/dev/null || true
    fi
  fi
  rm -f "${PID_FILE}" "${PORT_FILE}"
  info "stopped (pid ${pid})"
}

cmd_status() {
  if is_up; then
    info "up on ${REDIS_HOST}:${REDIS_PORT}$([[ -n "$(our_pid)" ]] && echo ' (ours)')"
    return 0
  fi
  info "down"
  return 1
}

[[ $# -eq 1 ]] || usage
case "$1" in
  start)
    hold_lock redis
    cmd_start
    ;;
  stop)
    hold_lock redis
    cmd_stop
    ;;
  status) cmd_status ;;
  *) usage ;;
esac
