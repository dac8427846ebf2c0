#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser), driven by Playwright for Python
# through `executable_path=/usr/bin/chromium`: Playwright's own browser download does not work
# on every machine (no access to its CDN), and the distribution's package gets security
# updates with the rest of the system. Idempotent and quiet: does nothing when
# /usr/bin/chromium exists; otherwise installs the `chromium` package with apt-get.
#
#   deploy/scripts/browser.sh
set -euo pipefail

CHROMIUM=/usr/bin/chromium
[[ -x "${CHROMIUM}" ]] && exit 0

command -v apt-get >/dev/null 2>&1 || {
  echo "browser: ${CHROMIUM} is missing and apt-get is not available; install Chromium" \
    "so that ${CHROMIUM} exists (the browser tests launch it from there)" >&2
  exit 1
}
SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "browser: need root or sudo to install chromium" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"${log}" 2>&1; then
  echo "browser: installing chromium with apt-get failed:" >&2
  tail -n 30 "${log}" >&2
  exit 1
fi
[[ -x "${CHROMIUM}" ]] || { echo "browser: chromium installed but ${CHROMIUM} is missing" >&2; exit 1; }
echo "browser: installed $("${CHROMIUM}" --version 2>/dev/null || echo chromium)"
