import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configTable, END_MARKER, README, START_MARKER, withConfigTable } from './config-table.ts';

describe("README's configuration table", () => {
  it('is what `npm run docs:config` writes from ConfigSchema (run it after changing lib/platform/config.ts)', () => {
    const readme = readFileSync(README, 'utf8');
    assert.equal(readme, withConfigTable(readme), 'out of date; run `npm run docs:config`');
  });

  it('replaces only what lies between the markers, and refuses a readme without them', () => {
    const readme = `a\n${START_MARKER}\nold\n${END_MARKER}\nb\n`;
    assert.equal(withConfigTable(readme), `a\n${START_MARKER}\n${configTable()}\n${END_MARKER}\nb\n`);
    assert.throws(() => withConfigTable('no markers'), /lacks/);
  });
});
