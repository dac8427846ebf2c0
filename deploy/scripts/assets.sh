#!/usr/bin/env bash
# Third-party web assets for the portal, fetched at build time instead of committed.
#
#   deploy/scripts/assets.sh
#
# Downloads Leaflet 1.9.4 from the npm registry, checks the tarball against the sha512
# integrity the registry publishes for that version (hard-coded below, so a changed
# tarball is refused), and copies dist/ (leaflet.js, leaflet.css, images/, LICENSE) into
# the portal's static/vendor/leaflet/ (git-ignored). Nothing is fetched from a CDN at
# runtime; the portal works without these files (the map says it is unavailable).
# Idempotent: when the files are present and their recorded integrity matches, it exits.
set -euo pipefail

LOG_TAG=assets
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

LEAFLET_VERSION=1.9.4
LEAFLET_URL="https://registry.npmjs.org/leaflet/-/leaflet-${LEAFLET_VERSION}.tgz"
# `npm view leaflet@1.9.4 dist.integrity` (checked against registry.npmjs.org).
LEAFLET_INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
DEST="${ADUAN_ROOT}/services/portal/src/aduan_portal/static/vendor/leaflet"
STAMP="${DEST}/.integrity"

if [[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${LEAFLET_INTEGRITY}" && -f "${DEST}/leaflet.js" \
  && -f "${DEST}/leaflet.css" && -f "${DEST}/LICENSE" && -d "${DEST}/images" ]]; then
  info "leaflet ${LEAFLET_VERSION} already present"
  exit 0
fi

command -v curl >/dev/null || die "curl is required"

# sha512 of a file as npm writes integrity (base64); openssl or, in slim images, Python.
sri_sha512() {
  if command -v openssl >/dev/null; then
    printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | openssl base64 -A)"
  elif command -v python3 >/dev/null; then
    python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(), end="")' "$1"
  else
    die "openssl or python3 is required to check the download"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf -- "${work}"' EXIT

info "downloading leaflet ${LEAFLET_VERSION}"
curl --fail --silent --show-error --location --retry 3 --max-time 120 \
  -o "${work}/leaflet.tgz" "${LEAFLET_URL}"

actual="$(sri_sha512 "${work}/leaflet.tgz")"
[[ "${actual}" == "${LEAFLET_INTEGRITY}" ]] \
  || die "integrity mismatch for ${LEAFLET_URL}: got ${actual}"

tar -xzf "${work}/leaflet.tgz" -C "${work}" package/dist package/LICENSE
for f in leaflet.js leaflet.css; do
  [[ -f "${work}/package/dist/${f}" ]] || die "tarball has no dist/${f}"
done

# Build next to the destination and swap, so a half-copied folder is never served.
staging="${DEST}.tmp.$$"
rm -rf -- "${staging}"
mkdir -p "${staging}"
cp "${work}/package/dist/leaflet.js" "${work}/package/dist/leaflet.css" "${staging}/"
[[ -f "${work}/package/dist/leaflet.js.map" ]] && cp "${work}/package/dist/leaflet.js.map" "${staging}/"
cp -R "${work}/package/dist/images" "${staging}/images"
cp "${work}/package/LICENSE" "${staging}/LICENSE"
printf '%s' "${LEAFLET_INTEGRITY}" >"${staging}/.integrity"
rm -rf -- "${DEST}"
mv "${staging}" "${DEST}"
info "leaflet ${LEAFLET_VERSION} installed in ${DEST#"${ADUAN_ROOT}"/}"
