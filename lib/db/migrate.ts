import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { Config } from '../config.ts';
import { createDatabase, pingDatabase } from './client.ts';

const MIGRATIONS_FOLDER = new URL('../../drizzle', import.meta.url).pathname;

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
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await db.$client.end();
  }
}
