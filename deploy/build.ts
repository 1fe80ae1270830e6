/**
 * npm run build: bundles what a container runs into dist/node/, one file per entry point plus the
 * chunks they share (dist/node/chunks/), so an image needs Node and these files only (no
 * node_modules).
 *
 * One bundle runs every function (bin/run.ts with FUNCTION=<name>): one image layer that every
 * container on a Pi shares on disk and in the page cache. It is split into chunks, and each
 * function's module is a chunk of its own that bin/functions.ts imports by name, so a process
 * loads the shared clients (pg, ioredis, kafkajs, pino, drizzle) and its own code only: as one
 * file, every function compiled and kept every other's (the seat-map page with its non-ASCII
 * text made V8 keep the whole 1.5 MB source as a two-byte string), 5–6 MB more resident each.
 */
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Below the root, so lib/booking/db/migrate.ts finds the root's drizzle/ looking upward from the bundle. */
export const BUNDLE_PATH = 'dist/node';
export const BUNDLE_DIR = `${ROOT}${BUNDLE_PATH}`;

export const ENTRY_POINTS = {
  /** Every function; FUNCTION=<name> runs one, as in its container. */
  run: 'bin/run.ts',
  /** The one-shot migration (compose service, Kubernetes Job). */
  migrate: 'scripts/migrate.ts',
  /** The one-shot topic creation, before any consumer or producer starts. */
  'create-topics': 'deploy/create-topics.ts',
} as const;

export type BundleEntry = keyof typeof ENTRY_POINTS;

/** Where an entry point's bundle is, relative to the root (and to the image's working directory). */
export const bundleOf = (entry: BundleEntry) => `${BUNDLE_PATH}/${entry}.mjs`;

/**
 * Maps the bundle to the packages' JavaScript as installed, not through their own source maps: some
 * point outside their package (drizzle-orm's name `node_modules/src/...`), which would hide which
 * package a profiled frame belongs to.
 */
const packagesAsInstalled: Plugin = {
  name: 'packages-as-installed',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, async (args) => ({
      contents: (await readFile(args.path, 'utf8')).replace(/^\/\/# sourceMappingURL=.*$/gm, ''),
      loader: 'js',
    }));
  },
};

export async function buildBundles(
  outdir = BUNDLE_DIR,
  options: {
    /** A .map beside each bundle, for CPU profiles of it (bench/profile.ts); the image needs none. */
    sourcemap?: boolean;
  } = {},
): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // Each function's module is imported by name (bin/run.ts): its own chunk, loaded by its process only.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    // The oldest Node the project supports (package.json engines), so the bundle runs on any newer LTS.
    target: 'node20',
    // Identifiers stay as written, so a stack trace in a container's log still names its functions.
    minifyWhitespace: true,
    minifySyntax: true,
    // pg only tries pg-native when asked to (it is not installed); the bundle must not need it.
    external: ['pg-native'],
    // Bundled CommonJS packages (pg, kafkajs, ioredis) call require() for Node's built-ins.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    sourcemap: options.sourcemap ? 'external' : false,
    plugins: options.sourcemap ? [packagesAsInstalled] : [],
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildBundles();
  console.error(`build: bundles written to ${BUNDLE_PATH}/`);
}
