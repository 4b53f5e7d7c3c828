#!/usr/bin/env bash
# Installs the project's npm dependencies, including its own Node >= 22 runtime
# (the `node` package from the npm registry), and checks that runtime works.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm install (not ci): it follows the lockfile, and unlike ci it accepts a lock
# that lacks other platforms' optional packages, as registries without them write it.
npm install --no-audit --no-fund --loglevel=error
runtime=node_modules/.bin/node
if ! "$runtime" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null; then
  # Some npm versions skip the runtime package's install script; run it explicitly.
  npm rebuild node --loglevel=error
fi
# The shoal command runs from one bundled module (scripts/bundle.ts), rebuilt from the sources here.
"$runtime" scripts/bundle.ts
echo "shoal: runtime $("$runtime" --version) ready; try: npx shoal --help"
