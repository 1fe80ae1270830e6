import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CONFIGURATION_PAGE,
  configTable,
  END_MARKER,
  START_MARKER,
  withConfigTable,
} from './config-table.ts';

describe('the configuration table (docs/configuration.md)', () => {
  it('is what `npm run docs:config` writes from ConfigSchema (run it after changing lib/platform/config.ts)', () => {
    const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
    assert.equal(page, withConfigTable(page), 'out of date; run `npm run docs:config`');
  });

  it('replaces only what lies between the markers, and refuses a page without them', () => {
    const readme = `a\n${START_MARKER}\nold\n${END_MARKER}\nb\n`;
    assert.equal(withConfigTable(readme), `a\n${START_MARKER}\n${configTable()}\n${END_MARKER}\nb\n`);
    assert.throws(() => withConfigTable('no markers'), /lacks/);
  });
});
