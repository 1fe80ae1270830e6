/**
 * Bearer tokens for the load: HS256 JWTs with the claims `lib/auth.ts` requires (`sub` = the user
 * id, `role`), signed with the run's JWT_SECRET. Signed here with node:crypto, synchronously, so
 * tens of thousands cost milliseconds before the load starts.
 */
import { createHmac } from 'node:crypto';

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function userToken(secret: string, userId: number, ttlSeconds = 3_600): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = base64url(
    JSON.stringify({ sub: String(userId), role: 'user', iat: now, exp: now + ttlSeconds }),
  );
  const signature = createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}
