// Bundles the shoal command (every workspace package and dependency) into one minified ES
// module, packages/cli/dist/shoal.mjs, which packages/cli/bin/shoal.js runs. Why: a daemon
// run from the sources keeps every module's source text and compiled code of whole packages
// it barely uses; bundled and tree-shaken, a peer connected to its scheduler idles at ~95
// instead of ~130 MB RSS (V8 heap ~22 instead of ~37 MB), see bench/RESULTS.md.
// Run by scripts/setup.sh, so the test and start commands always run a fresh bundle.
// `node scripts/bundle.ts --no-minify` keeps the names, for CPU profiles that read as the sources;
// `--outfile FILE` writes the bundle elsewhere (a test that inspects it).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
export const BUNDLE = join(root, 'packages/cli/dist/shoal.mjs');

/**
 * socket-tls.ts loads @libp2p/tls's certificate helpers by file at run time (they are not among
 * the package's exports). Bundled, that import would load them and their dependencies a second
 * time from node_modules: here the same file is imported statically instead.
 */
const tlsHelpersInBundle: Plugin = {
  name: 'tls-helpers-in-bundle',
  setup(plugin) {
    plugin.onLoad({ filter: /packages[\\/]p2p[\\/]src[\\/]socket-tls\.ts$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      const helpersFile = join(dirname(fileURLToPath(import.meta.resolve('@libp2p/tls'))), 'utils.js');
      const dynamic = /const helpers = \(await import\([^;]+;/;
      if (!dynamic.test(source)) throw new Error('socket-tls.ts no longer loads the TLS helpers as expected');
      const contents = source.replace(
        dynamic,
        `import * as bundledTlsHelpers from ${JSON.stringify(helpersFile)};\nconst helpers = bundledTlsHelpers as unknown as TlsHelpers;`,
      );
      return { contents, loader: 'ts' };
    });
  },
};

await build({
  entryPoints: [join(root, 'packages/cli/src/main.ts')],
  outfile: optionValue('--outfile') ?? BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: !process.argv.includes('--no-minify'),
  legalComments: 'none',
  plugins: [tlsHelpersInBundle],
  // A native module (its prebuilt binding is a .node file): loaded from node_modules at run time.
  external: ['@node-rs/crc32'],
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as shoalCreateRequire } from 'node:module'; const require = shoalCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

function optionValue(flag: string): string | undefined {
  const index = process.argv.indexOf(flag);
  return index === -1 ? undefined : process.argv[index + 1];
}
