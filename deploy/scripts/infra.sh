#!/usr/bin/env bash
# Local infrastructure for Aduan without Docker: PostgreSQL, Redis and Kafka.
#
#   deploy/scripts/infra.sh up|down|status
#
# `up` starts Kafka in the background (its first run downloads the broker from Maven
# Central) while PostgreSQL and Redis start, then prints the connection settings.
# Ports: PGPORT (5432), REDIS_PORT (6379), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093).
set -euo pipefail

LOG_TAG=infra
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

SCRIPTS="${ADUAN_ROOT}/deploy/scripts"

usage() {
  echo "usage: $0 up|down|status" >&2
  exit 2
}

print_env() {
  cat <<ENV
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${KAFKA_PORT:-9092}
DATABASE_URL=postgresql+asyncpg://postgres:postgres@127.0.0.1:${PGPORT:-5432}/postgres
REDIS_URL=redis://127.0.0.1:${REDIS_PORT:-6379}/0
ENV
}

cmd_up() {
  ensure_run_dirs
  local kafka_out="${LOG_DIR}/infra-kafka-start.out"
  local kafka_job rc_kafka=0 rc_pg=0 rc_redis=0
  # Kafka (slowest: maven download on first run + JVM start) runs concurrently.
  # PostgreSQL and Redis run one after the other so that two apt-get never overlap.
  "${SCRIPTS}/kafka.sh" start >"${kafka_out}" 2>&1 &
  kafka_job=$!
  # If we are interrupted, do not leave the background starter behind.
  trap 'kill "${kafka_job}" 2>/dev/null || true' INT TERM

  "${SCRIPTS}/postgres.sh" start || rc_pg=$?
  "${SCRIPTS}/redis.sh" start || rc_redis=$?
  wait "${kafka_job}" || rc_kafka=$?
  trap - INT TERM
  cat "${kafka_out}"

  local failed=()
  ((rc_pg == 0)) || failed+=(postgres)
  ((rc_redis == 0)) || failed+=(redis)
  ((rc_kafka == 0)) || failed+=(kafka)
  if ((${#failed[@]} > 0)); then
    die "failed to start: ${failed[*]} (logs in ${LOG_DIR})"
  fi
  print_env
}

cmd_down() {
  local failed=()
  "${SCRIPTS}/kafka.sh" stop || failed+=(kafka)
  "${SCRIPTS}/redis.sh" stop || failed+=(redis)
  "${SCRIPTS}/postgres.sh" stop || failed+=(postgres)
  if ((${#failed[@]} > 0)); then
    die "failed to stop: ${failed[*]}"
  fi
}

cmd_status() {
  local down=()
  "${SCRIPTS}/postgres.sh" status || down+=(postgres)
  "${SCRIPTS}/redis.sh" status || down+=(redis)
  "${SCRIPTS}/kafka.sh" status || down+=(kafka)
  if ((${#down[@]} > 0)); then
    err "down: ${down[*]}"
    return 1
  fi
  print_env
}

[[ $# -eq 1 ]] || usage
case "$1" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) usage ;;
esac
