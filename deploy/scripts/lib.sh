#!/usr/bin/env bash
# Shared helpers for the deploy/scripts/*.sh infrastructure scripts.
# Sourced, never executed. Callers must have `set -euo pipefail` already.

# Repository root, resolved from this file's location (deploy/scripts/lib.sh).
ADUAN_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)"
RUN_DIR="${ADUAN_ROOT}/.run"
LOG_DIR="${RUN_DIR}/logs"
PID_DIR="${RUN_DIR}/pids"
export ADUAN_ROOT RUN_DIR LOG_DIR PID_DIR

# Prefix for messages; each script sets it (kafka, postgres, redis, infra).
LOG_TAG="${LOG_TAG:-infra}"

info() { printf '%s: %s\n' "${LOG_TAG}" "$*"; }
err() { printf '%s: ERROR: %s\n' "${LOG_TAG}" "$*" >&2; }
die() {
  err "$*"
  exit 1
}

ensure_run_dirs() {
  mkdir -p "${LOG_DIR}" "${PID_DIR}"
}

# port_open HOST PORT -> 0 when a TCP connect succeeds within 1 s.
port_open() {
  # shellcheck disable=SC2016 # $1/$2 belong to the inner shell
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# pid_alive PID -> 0 when the process exists.
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null
}

# read_pid FILE -> prints the pid stored in FILE (digits only) or nothing.
read_pid() {
  local pid=""
  if [[ -f "$1" ]]; then
    pid="$(tr -cd '0-9' <"$1")"
  fi
  printf '%s' "${pid}"
}

# tail_log FILE [LINES] -> prints the end of a log file to stderr.
tail_log() {
  local file="$1" lines="${2:-40}"
  if [[ -r "${file}" ]]; then
    printf -- '----- last %s lines of %s -----\n' "${lines}" "${file}" >&2
    tail -n "${lines}" "${file}" >&2 || true
    printf -- '-----\n' >&2
  else
    err "log file ${file} not found"
  fi
}

# hold_lock NAME [TIMEOUT] -> serialises start/stop/reset of one component: parallel
# test sessions call `<name>.sh start` at the same time. The lock lives on fd 9 until
# the script exits; anything started from a locked script that outlives it (broker,
# postmaster, redis) must be started with `9>&-`, or it would keep the lock.
hold_lock() {
  ensure_run_dirs
  local lock="${PID_DIR}/$1.lock"
  exec 9>"${lock}"
  flock -w "${2:-300}" 9 || die "timed out waiting for ${lock} (another $1 start/stop still running?)"
}

# apt_install PKG... -> installs Debian packages as root. Runs `apt-get update`
# at most once per hour (stamp in .run), serialised with a lock so that two of
# our scripts never race each other; apt itself also waits for a foreign dpkg lock.
apt_install() {
  [[ "$(id -u)" -eq 0 ]] || die "need root to install $* (apt-get)"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* manually"
  ensure_run_dirs
  local stamp="${RUN_DIR}/apt-updated.stamp" log="${LOG_DIR}/apt.log"
  local -a apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  (
    flock -w 900 8 || die "timed out waiting for ${RUN_DIR}/apt.lock"
    if [[ -z "$(find "${stamp}" -mmin -60 2>/dev/null)" ]]; then
      info "apt-get update (log: ${log})"
      apt-get "${apt_opts[@]}" update >>"${log}" 2>&1 ||
        { tail_log "${log}"; die "apt-get update failed"; }
      touch "${stamp}"
    fi
    info "apt-get install $* (log: ${log})"
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends "$@" \
      >>"${log}" 2>&1 || { tail_log "${log}"; die "apt-get install $* failed"; }
  ) 8>"${RUN_DIR}/apt.lock"
}
