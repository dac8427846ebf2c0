#!/usr/bin/env bash
# wrk (Debian's `wrk` package): the second HTTP generator the bench uses for its bare
# FastAPI ceiling, so that ceiling is never one client's limit.
#
#   deploy/scripts/wrk.sh          # install with apt-get if missing (as root); print its path
#   deploy/scripts/wrk.sh path     # print the path only (exit 1 when not installed)
set -euo pipefail

LOG_TAG=wrk
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

found="$(command -v wrk || true)"
if [[ "${1:-}" == "path" ]]; then
  [[ -n "${found}" ]] || exit 1
  printf '%s\n' "${found}"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: $0 [path]" >&2; exit 2; }
if [[ -z "${found}" ]]; then
  apt_install wrk >&2
  found="$(command -v wrk)" || die "wrk still not found after apt-get install"
fi
printf '%s\n' "${found}"
