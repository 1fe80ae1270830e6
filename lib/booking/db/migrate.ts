import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Config } from '../../platform/config.ts';
import { createDatabase, pingDatabase } from './client.ts';

/**
 * The nearest drizzle/ above this module: the repository's from the source, and the image's from
 * the bundle (dist/node/migrate.mjs), which sit at different depths.
 */
function migrationsFolder(from = dirname(fileURLToPath(import.meta.url))): string {
  const candidate = join(from, 'drizzle');
  if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
  const parent = dirname(from);
  if (parent === from) throw new Error('migrate: no drizzle/ folder above lib/booking/db/migrate.ts');
  return migrationsFolder(parent);
}

/** Creates the database named in the URL when the server answers but the database is missing. */
async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch {
    return; // the ping that follows names the problem in one line
  }
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await admin.query(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
}

/** Brings the database at DATABASE_URL to the latest migration in drizzle/. */
export async function migrateDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>,
): Promise<void> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDatabase({ ...config, DATABASE_POOL_SIZE: 1 });
  try {
    await pingDatabase(db);
    await migrate(db, { migrationsFolder: migrationsFolder() });
  } finally {
    await db.$client.end();
  }
}
