#!/usr/bin/env bash
# Installs `kustomize` (the manifest tests render the k8s/ kustomizations with it; no cluster
# is needed) from Debian's own packages, where it is missing:
# - Debian 13 (trixie) and later package it: `apt-get install kustomize`.
# - Debian 12 (bookworm) does not; trixie's package is a static Go binary needing only libc
#   (>= 2.34; bookworm has 2.36), so it is fetched from the same Debian mirror this machine's apt
#   uses, through a throw-away apt configuration (the system's sources and lists are not
#   touched), and its binary placed in /usr/local/bin.
# kubectl is not needed: Debian does not package it, which is why the tests no longer use
# `kubectl kustomize`. Idempotent; run as root or with sudo available.
set -euo pipefail
if command -v kustomize >/dev/null 2>&1; then exit 0; fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -n "$(apt-cache policy kustomize 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kustomize
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
suites() { apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null; }
uri=$(suites | awk '$2 == "bookworm" {print $1; exit}')
[ -n "$uri" ] || { $SUDO apt-get update -qq; uri=$(suites | awk '$2 == "bookworm" {print $1; exit}'); }
[ -n "$uri" ] || { echo "install-kustomize: apt knows no Debian mirror for bookworm" >&2; exit 1; }
mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$tmp/trixie.list"
opts=(-o Dir::Etc::SourceList="$tmp/trixie.list" -o Dir::Etc::SourceParts="$tmp/parts"
      -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o APT::Sandbox::User=root
      -o Acquire::Languages=none -o Debug::NoLocking=1)
apt-get "${opts[@]}" update -qq >"$tmp/log" 2>&1 || { tail -5 "$tmp/log" >&2; exit 1; }
(cd "$tmp/deb" && apt-get "${opts[@]}" download kustomize >>"$tmp/log" 2>&1) || { tail -5 "$tmp/log" >&2; exit 1; }
dpkg -x "$tmp"/deb/kustomize_*.deb "$tmp/x"
$SUDO install -D -m 0755 "$tmp/x/usr/bin/kustomize" /usr/local/bin/kustomize
/usr/local/bin/kustomize build --help >/dev/null
echo "install-kustomize: $(basename "$tmp"/deb/*.deb) installed as /usr/local/bin/kustomize" >&2
