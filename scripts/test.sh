#!/usr/bin/env bash
# The one test command: sets up everything the tests need, then runs lint,
# type checks, unit tests and end-to-end tests against real parts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-deps.sh
export PATH="$PWD/node_modules/.bin:$PATH"
biome ci .
node scripts/check-workspace-deps.ts
tsc -p tsconfig.json
node --test --test-concurrency=1 --test-timeout=600000 \
  'packages/*/test/**/*.test.ts' 'peer/test/**/*.test.ts' 'scheduler/test/**/*.test.ts' 'bench/**/*.test.ts' 'test/e2e/**/*.test.ts'
