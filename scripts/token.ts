/** npm run token -- <userId> [--admin]: prints a bearer token for a user, valid for a day. */
import { issueToken } from '../lib/platform/auth.ts';
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';

runCli('token', async () => {
  const [userId] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  if (!userId || !/^[1-9]\d{0,9}$/.test(userId)) {
    throw new Error('usage: npm run token -- <userId> [--admin]');
  }
  const role = process.argv.includes('--admin') ? 'admin' : 'user';
  console.log(issueToken(parseConfig(), { id: Number(userId), role }));
});
