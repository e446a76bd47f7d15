#!/usr/bin/env bash
# Installs `promtool` (the monitoring tests run `promtool check rules` and `promtool test rules`
# on the alerting rules and on the dashboard's expressions) from Debian's `prometheus` package,
# where it is missing. Only the promtool binary is wanted: `apt-get install prometheus` would
# pull a dozen JavaScript packages for the web UI, create a system user and start a service.
# So the .deb (about 19 MB) is downloaded with `apt-get download` into a temporary folder,
# unpacked with `dpkg -x`, and only usr/bin/promtool (a static Go binary) is installed as
# /usr/local/bin/promtool. The system's package state is not touched. Idempotent; run as root
# or with sudo available.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -z "$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ]; then
  $SUDO apt-get update -qq
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download prometheus >"$tmp/log" 2>&1) || { tail -5 "$tmp/log" >&2; exit 1; }
dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"
$SUDO install -D -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
/usr/local/bin/promtool --version >/dev/null
echo "install-promtool: promtool from $(basename "$tmp"/prometheus_*.deb) installed as /usr/local/bin/promtool" >&2
