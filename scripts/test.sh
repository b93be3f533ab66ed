#!/usr/bin/env bash
# Runs the whole test suite. The Redis tests start their own throwaway
# redis-server processes on free loopback ports; they never connect to a
# server that is already running.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing; installing Debian's redis-server package" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq redis-server >/dev/null
  else
    echo "cannot install it without root: run 'apt-get install redis-server' as root, then rerun $0" >&2
    exit 1
  fi
fi

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
