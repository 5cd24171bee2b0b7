#!/bin/bash
# EMR bootstrap action: the job's native and heavy Python dependencies for python3.11 on every node.
# Pinned (the versions CI tests with), idempotent (a pin already installed is left alone), and it logs
# what it did to stdout (EMR keeps bootstrap-action logs under the cluster's log URI).
set -euo pipefail

PYTHON=${MIGRATION_PYTHON:-python3.11}
PINS=(
  "lxml==6.1.3"
  "great-expectations==1.24.1"
  "psycopg[binary]==3.3.9"
  "adbc-driver-manager==1.13.0"
  "adbc-driver-postgresql==1.13.0"
  "cryptography==50.0.2"
  "pydantic==2.14.4"
  "PyYAML==6.0.4"
  "boto3==1.44.8"
  "pyarrow==24.0.0"
  "pandas==2.3.3"
  "numpy==1.26.4"
)

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) install_python_deps: $*"; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "$PYTHON not found: installing it (Amazon Linux 2023)"
  sudo dnf install -y -q python3.11 python3.11-pip
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  log "pip for $PYTHON not found: installing it"
  sudo dnf install -y -q python3.11-pip
fi

missing=()
for pin in "${PINS[@]}"; do
  name=${pin%%==*}
  name=${name%%[*}
  wanted=${pin##*==}
  have=$("$PYTHON" -m pip show "$name" 2>/dev/null | awk '/^Version:/ {print $2}' || true)
  if [[ "$have" == "$wanted" ]]; then
    log "$name $wanted already installed"
  else
    log "$name: have '${have:-none}', want $wanted"
    missing+=("$pin")
  fi
done

if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  sudo "$PYTHON" -m pip install --quiet --no-cache-dir "${missing[@]}"
fi
log "done ($("$PYTHON" --version 2>&1))"
