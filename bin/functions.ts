import { ConfigError } from '../lib/platform/config.ts';
import type { FunctionDefinition } from '../lib/platform/function.ts';

/**
 * The function named, from its own module (functions/<name>/index.ts) and nothing else: in the
 * bundle each function is a chunk of its own (deploy/build.ts), so a container loads, compiles and
 * keeps in memory its own code only (`book` never loads the seat-map page). Unset, every function
 * of the registry, as `npm run dev` runs them.
 */
/** Node's answer for a module that is not there, and the bundle's (esbuild's glob import). */
const isMissingModule = (error: unknown) =>
  (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' ||
  /^Module not found in bundle/.test((error as Error).message);

export async function selectFunctions(name: string | undefined): Promise<readonly FunctionDefinition[]> {
  const registry = async () => (await import('../functions/registry.ts')).FUNCTIONS;
  if (name === undefined) return registry();
  // A plain name only: the value becomes part of a module path.
  const definition = /^[a-z][a-z-]*$/.test(name)
    ? await import(`../functions/${name}/index.ts`).then(
        (module: { default?: FunctionDefinition }) => module.default,
        (error: unknown) => {
          if (isMissingModule(error)) return undefined;
          throw error;
        },
      )
    : undefined;
  if (definition?.name !== name) {
    const known = (await registry()).map((candidate) => candidate.name).join(', ');
    throw new ConfigError(`config: FUNCTION=${name} names no function; known: ${known}`);
  }
  return [definition];
}
