import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Config } from '../../platform/config.ts';
import { DependencyError } from '../../platform/errors.ts';
import { metrics, watchPool } from '../../platform/metrics.ts';
import * as schema from './schema.ts';

export type Database = NodePgDatabase<typeof schema> & { $client: pg.Pool };

export function createDatabase(config: Pick<Config, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>): Database {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_SIZE,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client that loses its server emits here; without a listener the process would crash.
  pool.on('error', () => metrics.postgresErrors.inc());
  watchPool(pool);
  return drizzle(pool, { schema });
}

/** Fails with one line naming DATABASE_URL and how to start Postgres when it cannot be reached. */
export async function pingDatabase(db: Database): Promise<void> {
  try {
    await db.$client.query('select 1');
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new DependencyError(
      'postgres',
      `postgres: cannot reach DATABASE_URL (${redact(db.$client.options.connectionString)}): ${reason}; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
      { cause },
    );
  }
}

function redact(url: string | undefined): string {
  return (url ?? '').replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
