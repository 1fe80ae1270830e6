import type { FunctionDefinition } from '../lib/function.ts';
import events from './events/index.ts';

/** Every function of the system, once. The runner, the tests and the deploy generator read this list. */
export const FUNCTIONS: readonly FunctionDefinition[] = [events];
