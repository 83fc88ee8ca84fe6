#!/usr/bin/env bash
# Installs everything hearth needs to build and test, from Debian 12 packages only.
# Idempotent: packages already present are left alone. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libutf8proc-dev libssl-dev
  libboost1.81-dev libedit-dev libsqlite3-dev libsodium-dev libseccomp-dev
  bible-kjv bible-kjv-text
  chromium prometheus haproxy curl openssl
  qemu-user
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: all dependencies present"

# Node test tools (the official ollama client, ajv) for tests/ollama_client, pinned by
# package-lock.json. `npm ci` reinstalls from scratch, so it runs only when the lock
# file changed since the last install (its hash is stamped into node_modules/).
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing nodejs npm"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
stamp=node_modules/.hearth-package-lock.sha256
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  echo "setup: node_modules matches package-lock.json"
else
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$stamp"
fi
