#!/usr/bin/env bash
# Installs what hubcache needs to build and test, from Debian's apt and the npm registry only.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build pkg-config libssl-dev libcurl4-openssl-dev nlohmann-json3-dev
          libcli11-dev libfmt-dev libgtest-dev libmicrohttpd-dev libarchive-dev liblz4-dev librust-blake3-dev
          nodejs npm curl openssl
          clang-format xfsprogs nginx chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node/npm that did not come from apt (e.g. preinstalled) is fine too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the interop tests (the JS client @huggingface/hub), pinned by package-lock.json.
if [ -f tests/interop/package-lock.json ]; then
  if [ ! -d tests/interop/node_modules/@huggingface/hub ] || \
     [ tests/interop/package-lock.json -nt tests/interop/node_modules/.package-lock.json ]; then
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
