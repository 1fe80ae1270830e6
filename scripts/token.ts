/**
 * npm run token -- <userId> [--admin]: prints an HS256 bearer token for a user, valid for a day
 * (its `exp`; AUTH_MAX_TOKEN_LIFETIME_S caps what the functions accept). Signed with JWT_SECRET,
 * or else with the public development secret, which only a development or test stack accepts.
 */
import { issueToken } from '../lib/platform/auth.ts';
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';

runCli('token', async () => {
  const [userId] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  if (!userId || !/^[1-9]\d{0,9}$/.test(userId)) {
    throw new Error('usage: npm run token -- <userId> [--admin]');
  }
  const role = process.argv.includes('--admin') ? 'admin' : 'user';
  // A token for `npm start`'s stack unless NODE_ENV says otherwise.
  const config = parseConfig({ NODE_ENV: 'development', ...process.env });
  console.log(issueToken(config, { id: Number(userId), role }));
});
