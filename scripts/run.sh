#!/usr/bin/env bash
# Newcomer's run command: install dependencies, build, and chat with the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec ./build/hearth run tiny-kjv "$@"
