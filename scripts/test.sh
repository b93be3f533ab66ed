#!/usr/bin/env bash
# Runs the whole test suite. The Redis tests start their own throwaway
# redis-server processes and clusters on free loopback ports; they never
# connect to a server that is already running.
#
# The svc-infra interoperability tests run the Python package svc-infra 1.22
# from a virtualenv under the cargo target directory, which this script
# creates on first use (about 190 MB, from PyPI). Set
# JOBS_TEST_SVC_INFRA_PYTHON to use another interpreter that has svc-infra
# installed, or JOBS_TEST_SKIP_INTEROP=1 to skip those tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages, as root or through sudo, or explains how.
install_packages() {
  echo "installing the Debian packages: $*" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@" >/dev/null
  else
    echo "cannot install them without root: run 'apt-get install $*' as root, then rerun $0" >&2
    exit 1
  fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "redis-server or redis-cli is missing" >&2
  install_packages redis-server redis-tools
fi

if [ "${JOBS_TEST_SKIP_INTEROP:-}" = "1" ]; then
  echo "JOBS_TEST_SKIP_INTEROP=1: the svc-infra interoperability tests will be skipped" >&2
elif [ -z "${JOBS_TEST_SVC_INFRA_PYTHON:-}" ]; then
  target_dir=${CARGO_TARGET_DIR:-target}
  mkdir -p "$target_dir"
  venv="$(cd "$target_dir" && pwd)/svc-infra-venv"
  # Written after a complete install, so an interrupted one is redone.
  marker="$venv/.svc-infra-1.22-installed"
  if [ ! -e "$marker" ]; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      echo "python3 with the venv module and pip is missing" >&2
      install_packages python3 python3-venv
    fi
    echo "creating $venv with svc-infra 1.22 (about 30 s and 190 MB)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # typer 0.29 breaks svc-infra's command line at import.
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check 'svc-infra==1.22.*' 'typer<0.29'; then
      echo "failed to install svc-infra into $venv; check access to PyPI, or set JOBS_TEST_SKIP_INTEROP=1" >&2
      exit 1
    fi
    touch "$marker"
  fi
  export JOBS_TEST_SVC_INFRA_PYTHON="$venv/bin/python"
fi

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc

if [ "${JOBS_TEST_SKIP_INTEROP:-}" = "1" ]; then
  echo "JOBS_TEST_SKIP_INTEROP=1: the svc-infra interoperability tests were skipped" >&2
fi
