#!/usr/bin/env bash
# Runs the peer comparison: apalis 1.0 + apalis-redis (Rust), BullMQ 6.7
# (Node) and svc-infra 1.22 (Python), then this crate's bench binary, all
# against one throwaway redis-server on a free loopback port, with the same
# number of no-op jobs per figure. Not part of CI.
#
#   examples/peers/run.sh              # 20000 jobs per figure
#   JOBS=50000 examples/peers/run.sh
#
# Needs redis-server, cargo, node with npm, and python3 with venv, plus
# access to crates.io, npm and PyPI. Installs go to PEERS_DIR (a new
# temporary folder unless set; set it to reuse the installs of a run).
# Prints one line per figure: `<peer> <figure> <concurrency> <jobs> <jobs/s>`.
# Peers that fail to install or run are reported on stderr and skipped.
set -euo pipefail

JOBS=${JOBS:-20000}
# apalis-redis 1.0.0 moves every due job to its ready list in one Lua call
# with unpack(), which fails with "too many results to unpack" from about
# 8,000 jobs on, so its processing figure uses a smaller pre-filled queue.
APALIS_PROCESS_JOBS=${APALIS_PROCESS_JOBS:-5000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${PEERS_DIR:-$(mktemp -d -t jobs-peers-XXXXXX)}
mkdir -p "$work"
echo "installing peers under $work" >&2

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/redis"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" >"$work/redis/log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
url="redis://127.0.0.1:$port/0"
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on $url" >&2

# Runs a peer command and reports a failure without stopping the other peers.
measure() {
  "$@" || echo "failed: $*" >&2
}

install_apalis() {
  mkdir -p "$work/apalis"
  cp "$here/apalis/Cargo.toml.in" "$work/apalis/Cargo.toml"
  rm -rf "$work/apalis/src"
  cp -r "$here/apalis/src" "$work/apalis/src"
  (cd "$work/apalis" && cargo build --release --quiet)
}

install_bullmq() {
  mkdir -p "$work/bullmq"
  cp "$here/bullmq/peer.mjs" "$work/bullmq/"
  (cd "$work/bullmq" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund --silent bullmq@6.7.0 ioredis@5)
}

install_svc_infra() {
  if [ ! -x "$work/svc-infra-venv/bin/python" ]; then
    python3 -m venv "$work/svc-infra-venv"
  fi
  # typer 0.29 breaks svc-infra's command line at import.
  "$work/svc-infra-venv/bin/pip" install --quiet --disable-pip-version-check 'svc-infra==1.22.*' 'typer<0.29'
}

if install_apalis; then
  apalis="$work/apalis/target/release/apalis-peer"
  for producers in 1 64; do
    measure "$apalis" "$url" enqueue "$JOBS" "$producers"
  done
  measure "$apalis" "$url" enqueue_bulk "$JOBS"
  for concurrency in 1 16; do
    measure "$apalis" "$url" process "$APALIS_PROCESS_JOBS" "$concurrency"
  done
else
  echo "failed to build the apalis peer under $work/apalis" >&2
fi

if install_bullmq; then
  node="node $work/bullmq/peer.mjs"
  for producers in 1 64; do
    measure $node "$url" enqueue "$JOBS" "$producers"
  done
  measure $node "$url" enqueue_bulk "$JOBS"
  for concurrency in 1 16 50; do
    measure $node "$url" process "$JOBS" "$concurrency"
  done
else
  echo "failed to install BullMQ under $work/bullmq" >&2
fi

if install_svc_infra; then
  python="$work/svc-infra-venv/bin/python"
  measure "$python" "$here/svc_infra/peer.py" "$url" enqueue "$JOBS"
  for concurrency in 1 16; do
    measure "$python" "$here/svc_infra/peer.py" "$url" process "$JOBS" "$concurrency"
  done
else
  echo "failed to install svc-infra into $work/svc-infra-venv" >&2
fi

# This crate, over the same Redis and job count, as lines in the same format.
(cd "$repo" && cargo build --release --quiet -p examples --bin bench)
"$repo/target/release/bench" --redis-url "$url" --jobs "$JOBS" --concurrency 1,16,64 --producers 1,64 \
  --figures ceiling,enqueue,enqueue_batch,process --json |
  python3 -c '
import json, sys
for line in sys.stdin:
    figure = json.loads(line)
    name = figure["figure"]
    if figure.get("operation"):
        name += "_" + figure["operation"]
    print("jobs", name, figure["concurrency"] or 1, figure["jobs"], round(figure["jobs_per_s"]))
'
