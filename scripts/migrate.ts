/** npm run db:migrate: creates the database if missing and applies drizzle/ migrations. */

import { migrateDatabase } from '../lib/booking/db/migrate.ts';
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';

runCli('db:migrate', async () => {
  const config = parseConfig();
  await migrateDatabase(config);
  console.error(`db: migrations applied to ${new URL(config.DATABASE_URL).pathname.slice(1)}`);
});
