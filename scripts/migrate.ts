/** npm run db:migrate: creates the database if missing and applies drizzle/ migrations. */
import { runCli } from '../lib/cli.ts';
import { parseConfig } from '../lib/config.ts';
import { migrateDatabase } from '../lib/db/migrate.ts';

runCli('db:migrate', async () => {
  const config = parseConfig();
  await migrateDatabase(config);
  console.error(`db: migrations applied to ${new URL(config.DATABASE_URL).pathname.slice(1)}`);
});
