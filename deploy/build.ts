/**
 * npm run build: bundles what a container runs into dist/node/, one self-contained file per entry
 * point, so an image needs Node and these files only (no node_modules).
 *
 * One bundle runs every function (bin/run.ts with FUNCTION=<name>) rather than one per function:
 * lib/services.ts pulls pg, ioredis, kafkajs, pino and drizzle into every function, so bundles per
 * function would be near copies of each other, and a single one is one image layer that every
 * container on a Pi shares on disk and in the page cache.
 */
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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

export async function buildBundles(outdir = BUNDLE_DIR): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
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
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildBundles();
  console.error(`build: bundles written to ${BUNDLE_PATH}/`);
}
