/**
 * Bearer tokens for the load: a user token per request's user, signed with the run's JWT_SECRET
 * by the same `issueToken` the project's `npm run token` uses.
 */
import { issueToken } from '../lib/platform/auth.ts';

export function userToken(secret: string, userId: number, ttlSeconds = 3_600): string {
  return issueToken({ JWT_SECRET: secret }, { id: userId, role: 'user' }, ttlSeconds);
}
