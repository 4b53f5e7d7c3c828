#!/usr/bin/env node
// Entry point. The sources are TypeScript run by Node's type stripping (Node >= 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `shoal needs Node >= 22.18 (found ${process.versions.node}); run it with "npx shoal" after "npm ci", which provides one.\n`,
  );
  process.exit(1);
}
// V8 settings a command needs from its first allocation (the heap's shape is fixed once it
// exists): the process re-executes itself with them, same PID, before loading anything.
// The peer: a young generation of 2 x 2 MB instead of up to 2 x 32 MB. A transfer's network
// buffers die there; collected every few MB instead of every 64, they leave glibc and V8
// far fewer pages to hold: peak RSS on a 1 GiB piece download ~310 -> ~220 MB (bench/link).
// Flags given explicitly (node flags or NODE_OPTIONS) win.
const STARTUP_V8_FLAGS = { peer: ['--max-semi-space-size=2'] };
const wanted = STARTUP_V8_FLAGS[process.argv[2]] ?? [];
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
const missing = wanted.filter((flag) => !given.some((g) => g.split('=')[0] === flag.split('=')[0]));
if (missing.length > 0 && typeof process.execve === 'function') {
  process.execve(process.execPath, [
    process.execPath,
    ...missing,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}
// The on-disk compile cache keeps stripped and compiled modules between starts, so a
// warm start never loads the TypeScript stripper and compiles less: ~24 MB less RSS.
// SHOAL_COMPILE_CACHE picks the directory (default: Node's, under the temp dir). Worker
// threads (the hashing thread) read it from the environment: ~10 MB less each.
const { enableCompileCache } = await import('node:module');
const cache = enableCompileCache?.(process.env.SHOAL_COMPILE_CACHE || undefined);
if (cache?.directory) process.env.NODE_COMPILE_CACHE = cache.directory;
await import('../src/main.ts');
