#!/usr/bin/env node
// Entry point. The sources are TypeScript (Node's type stripping runs them in tests); the
// command itself runs their bundle.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `shoal needs Node >= 22.18 (found ${process.versions.node}); run it with "npx shoal" after "npm ci", which provides one.\n`,
  );
  process.exit(1);
}
// Some commands need settings from their first allocation (startup-settings.js): the
// process re-executes itself with them, same PID, before loading anything. Flags and
// variables given explicitly win.
const { STARTUP_SETTINGS } = await import('./startup-settings.js');
const startup = STARTUP_SETTINGS[process.argv[2]];
if (startup && typeof process.execve === 'function') {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const flags = startup.v8Flags.filter((flag) => !given.some((g) => g.split('=')[0] === flag.split('=')[0]));
  const env = Object.entries(startup.env).filter(([name]) => process.env[name] === undefined);
  if (flags.length > 0 || env.length > 0) {
    process.execve(
      process.execPath,
      [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
      { ...process.env, ...Object.fromEntries(env) },
    );
  }
}
// The on-disk compile cache keeps stripped and compiled modules between starts, so a
// warm start never loads the TypeScript stripper and compiles less: ~24 MB less RSS.
// SHOAL_COMPILE_CACHE picks the directory (default: Node's, under the temp dir).
const { enableCompileCache } = await import('node:module');
enableCompileCache?.(process.env.SHOAL_COMPILE_CACHE || undefined);
// The command runs from one bundled module (scripts/bundle.ts, run by scripts/setup.sh): a
// daemon then holds the code it uses instead of whole packages' sources (~35 MB less RSS).
const bundle = new URL('../dist/shoal.mjs', import.meta.url);
const { existsSync } = await import('node:fs');
if (!existsSync(bundle)) {
  process.stderr.write(
    `shoal is not built (${bundle.pathname} is missing): run "bash scripts/setup.sh" in the repository.\n`,
  );
  process.exit(1);
}
await import(bundle.href);
