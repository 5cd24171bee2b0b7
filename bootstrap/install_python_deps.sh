#!/bin/bash
# EMR bootstrap action: the job's Python dependencies for python3.11 on every node, from the artifact alone.
#
#   install_python_deps.sh DEPS [--check]
#
# DEPS is python-deps.tar (an s3:// URI or a local path), built by `make package` / jobs.submit:
# requirements/cluster.lock and the wheels it pins, for the cluster's platform. pip installs them with
# --no-index (no node reaches a package index: the cluster's subnets need no internet access) and
# --require-hashes (a file that is not the locked one is refused). Idempotent: what is installed at the
# locked version is left alone. --check resolves the lock from the wheelhouse without installing anything
# (a pre-flight on any Linux x86_64 host with python3.11). Logs go to stdout, which EMR keeps under the
# cluster's log URI.
set -euo pipefail

DEPS=${1:?usage: install_python_deps.sh s3://BUCKET/PREFIX/python-deps/KEY.tar [--check]}
MODE=${2:-install}
PYTHON=${MIGRATION_PYTHON:-python3.11}
case "$MODE" in
  install | --check) ;;
  *) echo "install_python_deps.sh: unknown option '$MODE' (only --check)" >&2; exit 2 ;;
esac

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) install_python_deps: $*"; }
started=$(date +%s)

# python3.11 and its pip come from Amazon Linux's own repository (reached through the region's S3 endpoint,
# as EMR's own packages are), never from PyPI.
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "$PYTHON not found: installing it from the Amazon Linux 2023 repository"
  $SUDO dnf install -y -q python3.11 python3.11-pip
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  log "pip for $PYTHON not found: installing it from the Amazon Linux 2023 repository"
  $SUDO dnf install -y -q python3.11-pip
fi

# root for the system's python3.11 (EMR's bootstrap runs as hadoop); a python whose prefix is writable (a venv,
# a benchmark's) installs as its owner
SUDO=
prefix=$("$PYTHON" -c 'import sys; print(sys.prefix)')
[[ $(id -u) -ne 0 && ! -w "$prefix" ]] && SUDO=sudo

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case "$DEPS" in
  s3://*) aws s3 cp --only-show-errors "$DEPS" "$work/deps.tar" ;;
  *) cp "$DEPS" "$work/deps.tar" ;;
esac
tar -xf "$work/deps.tar" -C "$work"
log "$(ls "$work/wheels" | wc -l) wheels, $(du -sm "$work/deps.tar" | cut -f1) MB from $DEPS ($(($(date +%s) - started)) s)"

# --isolated: no pip configuration of the host (an index URL, extra find-links) takes part
pip_args=(--isolated --no-index --find-links "$work/wheels" --only-binary=:all: --require-hashes
  --no-cache-dir --disable-pip-version-check -r "$work/cluster.lock")
if [[ "$MODE" == "--check" ]]; then
  "$PYTHON" -m pip install --dry-run --ignore-installed --quiet "${pip_args[@]}"
  log "check: every pin of cluster.lock resolves from the wheelhouse alone"
else
  $SUDO "$PYTHON" -m pip install --quiet "${pip_args[@]}"
  log "installed from the wheelhouse"
fi
log "done in $(($(date +%s) - started)) s ($("$PYTHON" --version 2>&1))"
