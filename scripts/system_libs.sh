#!/usr/bin/env bash
# The system libraries WeasyPrint renders certificate PDFs with: Pango (required) and HarfBuzz's font subsetter
# (without it WeasyPrint falls back to fontTools: slower, and unsupported by future releases).
# Where one is missing and apt-get can be run (root on Debian or Ubuntu), install it; otherwise say once what to run.
# Exit status 0 unless Pango is missing and could not be installed.
set -uo pipefail

have() { ldconfig -p 2>/dev/null | grep -q "$1"; }
missing=()
have libpango-1.0.so.0 || missing+=(libpango-1.0-0)
have libpangoft2-1.0.so.0 || missing+=(libpangoft2-1.0-0)
have libharfbuzz-subset.so.0 || missing+=(libharfbuzz-subset0)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (for certificate PDFs)"
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } \
    || echo "!! could not install ${missing[*]}; run: apt-get install ${missing[*]}"
else
  echo "!! missing for certificate PDFs: ${missing[*]}; run: sudo apt-get install ${missing[*]} (Debian, Ubuntu)"
fi
have libpango-1.0.so.0 || { echo "!! Pango is required to render certificates"; exit 1; }
exit 0
