#!/usr/bin/env bash
# The system libraries WeasyPrint renders certificate PDFs with: Pango (required) and HarfBuzz's font subsetter
# (without it WeasyPrint falls back to fontTools: slower, and unsupported by future releases); and Debian's Chromium,
# which the browser tests drive (tests/browser), with the DejaVu fonts.
# Where one is missing and apt-get can be run (root on Debian or Ubuntu), install it; otherwise say once what to run.
# Never fails the build: a missing library is named, and rendering a certificate (or a browser test) is what fails.
#   scripts/system_libs.sh [PYTHON]      (the interpreter that looks the libraries up; default python3)
set -uo pipefail
python="${1:-python3}"

# ctypes asks the dynamic loader's cache itself (an absolute /sbin/ldconfig on Linux), so a user's PATH does not
# matter; on other systems it searches the usual library folders.
have() { "$python" -c "import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library('$1') else 1)" 2>/dev/null; }
missing=()
have pango-1.0 || missing+=(libpango-1.0-0)
have pangoft2-1.0 || missing+=(libpangoft2-1.0-0)
have harfbuzz-subset || missing+=(libharfbuzz-subset0)
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot run everywhere).
command -v chromium >/dev/null 2>&1 || [ -n "${REFURB_CHROMIUM:-}" ] || missing+=(chromium fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (for certificate PDFs and the browser tests)"
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } \
    || echo "!! could not install ${missing[*]}; run: apt-get install ${missing[*]}"
else
  echo "!! missing for certificate PDFs or the browser tests: ${missing[*]}; on Debian or Ubuntu: sudo apt-get" \
    "install ${missing[*]}"
fi
exit 0
