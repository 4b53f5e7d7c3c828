#!/usr/bin/env bash
# Sets up the project and runs shoal. With no arguments it runs a peer daemon
# mirroring docker.io on 127.0.0.1:5050 (admin on 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
export PATH="$PWD/node_modules/.bin:$PATH"
if [ $# -eq 0 ]; then
  set -- peer --registry 127.0.0.1:5050 --http 127.0.0.1:9090 --data-dir "${SHOAL_DATA_DIR:-/var/lib/shoal}" --default-registry docker.io
fi
exec shoal "$@"
