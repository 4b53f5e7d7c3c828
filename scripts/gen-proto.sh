#!/usr/bin/env bash
# Regenerates the protobuf codecs. protons emits TypeScript with namespaces and
# enums, which Node's type stripping cannot run, so it is compiled to JS + .d.ts.
set -euo pipefail
cd "$(dirname "$0")/../packages/protocol"
tmp=.proto-build
rm -rf "$tmp" && mkdir "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp proto/shoal.proto "$tmp/"
../../node_modules/.bin/protons "$tmp/shoal.proto"
../../node_modules/.bin/tsc "$tmp/shoal.ts" --outDir src/generated --declaration --target ES2022 \
  --module NodeNext --moduleResolution NodeNext --skipLibCheck
