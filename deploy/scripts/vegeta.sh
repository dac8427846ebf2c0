#!/usr/bin/env bash
# The benchmark's load generator: vegeta (a compiled, open-loop HTTP load generator), built
# from its Go module at a pinned version into a cache shared by every checkout.
#
#   deploy/scripts/vegeta.sh          # install if missing; print the binary's path
#   deploy/scripts/vegeta.sh path     # print the path only (exit 1 when not installed)
#
# Env: ADUAN_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/aduan), VEGETA_VERSION (pinned).
# Needs Go (https://go.dev/dl) and the Go module proxy (or GOPROXY/GOFLAGS of your own).
set -euo pipefail

LOG_TAG=vegeta
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

VEGETA_VERSION="${VEGETA_VERSION:-v12.13.0}"
CACHE="${ADUAN_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/aduan}"
BIN_DIR="${CACHE}/vegeta/${VEGETA_VERSION}"
BIN="${BIN_DIR}/vegeta"

go_bin="$(command -v go || true)"
[[ -z "${go_bin}" && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
# `go install` leaves -version empty; the module version is in the build info (a stamp
# file when Go is no longer on the machine).
installed() {
  [[ -x "${BIN}" ]] || return 1
  if [[ -n "${go_bin}" ]]; then
    "${go_bin}" version -m "${BIN}" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/tsenart/vegeta/v12[[:space:]]+${VEGETA_VERSION}[[:space:]]"
  else
    [[ "$(cat "${BIN}.version" 2>/dev/null)" == "${VEGETA_VERSION}" ]]
  fi
}

if [[ "${1:-}" == "path" ]]; then
  installed || exit 1
  printf '%s\n' "${BIN}"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: $0 [path]" >&2; exit 2; }

if installed; then
  printf '%s\n' "${BIN}"
  exit 0
fi
[[ -n "${go_bin}" ]] || die "go not found: install Go (https://go.dev/dl) to build vegeta ${VEGETA_VERSION}"
mkdir -p "${BIN_DIR}"
# One build at a time per cache (two checkouts' `make deps` may run together).
exec 8>"${BIN_DIR}.lock"
flock -w 900 8 || die "timed out waiting for ${BIN_DIR}.lock"
if ! installed; then
  info "building github.com/tsenart/vegeta/v12@${VEGETA_VERSION} into ${BIN_DIR} (once)" >&2
  # Built outside any module (a temporary working directory), so no go.mod of ours is involved.
  work="$(mktemp -d)"
  trap 'rm -rf -- "${work}"' EXIT
  (cd "${work}" && GOBIN="${BIN_DIR}" GOFLAGS=-mod=mod "${go_bin}" install \
    "github.com/tsenart/vegeta/v12@${VEGETA_VERSION}") >&2 || die "go install vegeta failed"
  installed || die "built ${BIN} does not report module version ${VEGETA_VERSION}"
  printf '%s\n' "${VEGETA_VERSION}" >"${BIN}.version"
fi
printf '%s\n' "${BIN}"
