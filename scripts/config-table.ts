/**
 * npm run docs:config: writes docs/configuration.md's table from lib/platform/config.ts' ConfigSchema
 * (each variable, its default and its description), between the config markers, so the table and
 * the code cannot drift apart. scripts/config-table.unit.test.ts fails when the page differs from it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as v from 'valibot';
import { ConfigSchema, DEV_JWT_SECRET } from '../lib/platform/config.ts';

export const CONFIGURATION_PAGE = new URL('../docs/configuration.md', import.meta.url);
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

/** The page with the table between its markers replaced; throws when the markers are missing. */
export function withConfigTable(page: string): string {
  const start = page.indexOf(START_MARKER);
  const end = page.indexOf(END_MARKER, start);
  if (start === -1 || end === -1) throw new Error(`the page lacks ${START_MARKER} … ${END_MARKER}`);
  return `${page.slice(0, start + START_MARKER.length)}\n${configTable()}\n${page.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(CONFIGURATION_PAGE, withConfigTable(readFileSync(CONFIGURATION_PAGE, 'utf8')));
  console.error('docs/configuration.md: configuration table written from ConfigSchema');
}
