import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { GENERATED_MODULE, GENERATED_PATH, generatedScriptModule } from './build-script.ts';

describe('web: the seat map script bundle', () => {
  it(`${GENERATED_MODULE} is what \`npm run build:web\` writes from browser/seat-map.ts`, async () => {
    const committed = await readFile(GENERATED_PATH, 'utf8').catch(() => undefined);
    // Not assert.equal: its diff of two minified bundles would be one unreadable line.
    assert.ok(committed === (await generatedScriptModule()), 'out of date; run `npm run build:web`');
  });
});
