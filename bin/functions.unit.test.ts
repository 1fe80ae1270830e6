import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FUNCTIONS } from '../functions/registry.ts';
import { ConfigError } from '../lib/platform/config.ts';
import { selectFunctions } from './functions.ts';

describe('selectFunctions (FUNCTION=<name>)', () => {
  it('loads each function of the registry from its own module, functions/<name>/index.ts', async () => {
    for (const definition of FUNCTIONS) {
      assert.deepEqual(await selectFunctions(definition.name), [definition]);
    }
  });

  it('selects every function of the registry when FUNCTION is unset', async () => {
    assert.equal(await selectFunctions(undefined), FUNCTIONS);
  });

  it('names the known functions for a name that is none of them, or no plain name', async () => {
    for (const name of ['nope', 'web/assets', '../lib/services', 'Book', '']) {
      await assert.rejects(selectFunctions(name), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^config: FUNCTION=.* names no function; known: events, book,/);
        return true;
      });
    }
  });
});
