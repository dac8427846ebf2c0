#!/usr/bin/env bash
# Local PostgreSQL for development: a project-owned cluster, separate from Debian's
# default "main" cluster, run as the `postgres` OS user (the server refuses to run as
# root, so the data dir cannot live in the repo's root-owned .run/).
#
#   deploy/scripts/postgres.sh start|stop|status
#
# Env: PGPORT (5432), ADUAN_PG_DATA (/var/lib/postgresql/aduan-<port>),
#      ADUAN_PG_LOG (/var/log/postgresql/aduan-<port>.log, symlinked as .run/logs/postgres.log).
#
# LOCAL DEVELOPMENT ONLY: the superuser is postgres/postgres and the server listens
# on 127.0.0.1 only. Never reuse this setup for anything reachable from a network.
set -euo pipefail

LOG_TAG=postgres
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PG_HOST=127.0.0.1
PG_PORT="${PGPORT:-5432}"
PG_USER=postgres
PG_PASSWORD=postgres # local dev only, see header
PG_DATA="${ADUAN_PG_DATA:-/var/lib/postgresql/aduan-${PG_PORT}}"
PG_LOG="${ADUAN_PG_LOG:-/var/log/postgresql/aduan-${PG_PORT}.log}"
PG_SOCKET_DIR=/var/run/postgresql
MARKER="${PID_DIR}/postgres.started"
READY_TIMEOUT=60

usage() {
  echo "usage: $0 start|stop|status" >&2
  exit 2
}

# Newest installed server version's bin dir, or nothing.
pg_bindir() {
  local postgres_bin
  postgres_bin="$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 || true)"
  if [[ -n "${postgres_bin}" ]]; then
    dirname -- "${postgres_bin}"
  fi
}

# Run a command as the postgres OS user, from a directory it can read.
as_pg() {
  if [[ "$(id -u)" -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  elif [[ "$(id -un)" == postgres ]]; then
    (cd / && "$@")
  else
    die "must run as root (or as the postgres user) to manage the local cluster"
  fi
}

# pg_isready: 0 = accepting, 1 = rejecting (starting/stopping), 2 = no answer.
ready_state() {
  local rc=0
  pg_isready -q -h "${PG_HOST}" -p "${PG_PORT}" -t 2 || rc=$?
  return "${rc}"
}

is_up() { ready_state; }

wait_ready() {
  local waited=0
  until is_up; do
    if ((waited >= READY_TIMEOUT)); then
      tail_log "${PG_LOG}"
      die "server on ${PG_HOST}:${PG_PORT} not ready after ${READY_TIMEOUT}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

password_works() {
  PGPASSWORD="${PG_PASSWORD}" PGCONNECT_TIMEOUT=5 psql -X -q -A -t \
    -h "${PG_HOST}" -p "${PG_PORT}" -U "${PG_USER}" -d postgres -c 'select 1' >/dev/null 2>&1
}

# Make sure postgres/postgres works over TCP, also on a server we did not create
# (e.g. Debian's default cluster on 5432): set the password through the local
# socket with peer authentication as the postgres OS user.
ensure_password() {
  password_works && return 0
  info "setting the local-dev password of role ${PG_USER} (via peer auth on ${PG_SOCKET_DIR})"
  if ! as_pg psql -X -q -v ON_ERROR_STOP=1 -h "${PG_SOCKET_DIR}" -p "${PG_PORT}" -d postgres \
    -c "ALTER ROLE ${PG_USER} WITH LOGIN PASSWORD '${PG_PASSWORD}'" >/dev/null; then
    die "cannot log in as ${PG_USER} on ${PG_HOST}:${PG_PORT} and cannot set its password via the local socket; is this a PostgreSQL of another machine/container?"
  fi
  password_works ||
    die "password set, but ${PG_USER}@${PG_HOST}:${PG_PORT} still rejects it; check that server's pg_hba.conf (needs a scram-sha-256/md5 'host' line for 127.0.0.1)"
}

ensure_installed() {
  if [[ -z "$(pg_bindir)" ]]; then
    apt_install postgresql
    [[ -n "$(pg_bindir)" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/postgres found"
  fi
  if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    die "pg_isready/psql not on PATH (Debian package postgresql-client)"
  fi
  id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (normally created by the postgresql package)"
}

init_cluster() {
  local bindir="$1"
  if [[ -f "${PG_DATA}/PG_VERSION" ]]; then
    return 0
  fi
  if [[ -d "${PG_DATA}" ]] && [[ -n "$(ls -A "${PG_DATA}")" ]]; then
    die "${PG_DATA} exists, is not empty and is not a PostgreSQL cluster; set ADUAN_PG_DATA"
  fi
  mkdir -p "${PG_DATA}"
  chown postgres:postgres "${PG_DATA}"
  chmod 700 "${PG_DATA}"
  local pwfile init_log="${LOG_DIR}/postgres-initdb.log"
  pwfile="$(mktemp)"
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -f '${pwfile}'" EXIT
  printf '%s\n' "${PG_PASSWORD}" >"${pwfile}"
  chown postgres "${pwfile}"
  if ! as_pg "${bindir}/initdb" -D "${PG_DATA}" -U "${PG_USER}" --pwfile="${pwfile}" \
    --auth-host=scram-sha-256 --auth-local=peer -E UTF8 --locale=C.UTF-8 >"${init_log}" 2>&1; then
    tail_log "${init_log}"
    die "initdb of ${PG_DATA} failed"
  fi
  rm -f "${pwfile}"
  trap - EXIT
  # Our settings live in a separate file, rewritten on every start.
  printf "\ninclude_if_exists = 'aduan.conf'\n" >>"${PG_DATA}/postgresql.conf"
}

write_settings() {
  cat >"${PG_DATA}/aduan.conf" <<CONF
# Written by deploy/scripts/postgres.sh on every start (local development only).
listen_addresses = '${PG_HOST}'
port = ${PG_PORT}
unix_socket_directories = '${PG_SOCKET_DIR}'
max_connections = 300
shared_buffers = 256MB
fsync = on
CONF
  # ADUAN_PG_STAT_STATEMENTS=1: count every statement's calls and time (a bench's
  # breakdown of PostgreSQL's CPU by statement, docs/performance.md); off by default.
  if [[ "${ADUAN_PG_STAT_STATEMENTS:-0}" == "1" ]]; then
    printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n" \
      >>"${PG_DATA}/aduan.conf"
  fi
  chown postgres:postgres "${PG_DATA}/aduan.conf"
}

cmd_start() {
  ensure_run_dirs
  if is_up; then
    ensure_password
    if [[ -f "${MARKER}" ]]; then
      info "already running on ${PG_HOST}:${PG_PORT} (ours)"
    else
      info "a server already answers on ${PG_HOST}:${PG_PORT}; using it (not ours, will not stop it)"
    fi
    return 0
  fi
  ensure_installed
  local bindir
  bindir="$(pg_bindir)"

  mkdir -p "${PG_SOCKET_DIR}"
  chown postgres:postgres "${PG_SOCKET_DIR}"
  chmod 2775 "${PG_SOCKET_DIR}"
  mkdir -p "$(dirname -- "${PG_LOG}")"
  touch "${PG_LOG}"
  chown postgres:postgres "${PG_LOG}"
  ln -sfn "${PG_LOG}" "${LOG_DIR}/postgres.log"

  init_cluster "${bindir}"
  write_settings

  # Marker first: if pg_ctl gives up while the postmaster lives on, `stop` still works.
  printf 'PG_DATA=%s\nPG_PORT=%s\nPG_BINDIR=%s\n' "${PG_DATA}" "${PG_PORT}" "${bindir}" >"${MARKER}"
  if ! as_pg "${bindir}/pg_ctl" -D "${PG_DATA}" -l "${PG_LOG}" -w -t "${READY_TIMEOUT}" start \
    >"${LOG_DIR}/postgres-pg_ctl.log" 2>&1 9>&-; then
    tail_log "${LOG_DIR}/postgres-pg_ctl.log" 10
    tail_log "${PG_LOG}"
    die "pg_ctl could not start ${PG_DATA} on port ${PG_PORT}"
  fi
  wait_ready
  ensure_password
  info "ready on ${PG_HOST}:${PG_PORT} (data ${PG_DATA}, log ${PG_LOG})"
}

cmd_stop() {
  if [[ ! -f "${MARKER}" ]]; then
    info "not started by us; nothing to stop"
    return 0
  fi
  local data bindir
  data="$(sed -n 's/^PG_DATA=//p' "${MARKER}")"
  bindir="$(sed -n 's/^PG_BINDIR=//p' "${MARKER}")"
  [[ -x "${bindir}/pg_ctl" ]] || bindir="$(pg_bindir)"
  local rc=0
  as_pg "${bindir}/pg_ctl" -D "${data}" status >/dev/null 2>&1 || rc=$?
  if [[ "${rc}" -eq 0 ]]; then
    if ! as_pg "${bindir}/pg_ctl" -D "${data}" -m fast -w -t 60 stop >/dev/null 2>&1; then
      die "pg_ctl stop -m fast failed for ${data}"
    fi
    info "stopped (${data})"
  else
    info "not running (${data})"
  fi
  rm -f "${MARKER}"
}

cmd_status() {
  if is_up; then
    info "up on ${PG_HOST}:${PG_PORT}$([[ -f "${MARKER}" ]] && echo ' (ours)')"
    return 0
  fi
  info "down"
  return 1
}

[[ $# -eq 1 ]] || usage
case "$1" in
  start)
    hold_lock postgres
    cmd_start
    ;;
  stop)
    hold_lock postgres
    cmd_stop
    ;;
  status) cmd_status ;;
  *) usage ;;
esac
