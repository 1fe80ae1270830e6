/**
 * npm run docs:config: writes README's configuration table from lib/platform/config.ts' ConfigSchema
 * (each variable, its default and its description), between the config markers, so the table and
 * the code cannot drift apart. scripts/config-table.unit.test.ts fails when README differs from it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as v from 'valibot';
import { ConfigSchema, DEV_JWT_SECRET } from '../lib/platform/config.ts';

export const README = new URL('../README.md', import.meta.url);
export const START_MARKER = '<!-- config:start -->';
export const END_MARKER = '<!-- config:end -->';

/** A default as the table shows it: the value the environment would hold, or what its absence means. */
function shownDefault(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (value === '') return '(empty)';
  // Public, in this repository: naming it would only invite copying it.
  if (value === DEV_JWT_SECRET) return 'a public development secret';
  return `\`${String(value)}\``;
}

/** The markdown table of every setting, in ConfigSchema's order. */
export function configTable(): string {
  const defaults = v.getDefaults(ConfigSchema) as Record<string, unknown>;
  const rows = Object.entries(ConfigSchema.entries).map(
    ([name, schema]) =>
      `| \`${name}\` | ${shownDefault(defaults[name])} | ${v.getDescription(schema) ?? ''} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The readme with the table between its markers replaced; throws when the markers are missing. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER, start);
  if (start === -1 || end === -1) throw new Error(`README.md lacks ${START_MARKER} … ${END_MARKER}`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${configTable()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(README, withConfigTable(readFileSync(README, 'utf8')));
  console.error('README.md: configuration table written from ConfigSchema');
}
