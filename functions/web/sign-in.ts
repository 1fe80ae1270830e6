import { asc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import type { Database } from '../../lib/booking/db/client.ts';
import { users } from '../../lib/booking/db/schema.ts';
import { Timestamp } from '../../lib/booking/responses.ts';
import { authenticate, issueToken, ROLES } from '../../lib/platform/auth.ts';
import { type Config, DEV_JWT_SECRET } from '../../lib/platform/config.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { Id, validate } from '../../lib/platform/validation.ts';

/** A demo sign-in lasts an hour: long enough to try the page, short enough to be thrown away. */
const DEMO_TOKEN_TTL_S = 3_600;
/** The users the seat-map page offers to sign in as (the seed's five). */
const DEMO_USER_COUNT = 5;

/**
 * Signing in as a demo user is for development and tests only, and only while bearer tokens are
 * HS256 ones signed with the public development secret: then it mints nothing that anyone could
 * not mint already, and the API accepts what it mints (with AUTH_JWKS_URL it would not).
 */
export const demoSignInEnabled = (config: Pick<Config, 'NODE_ENV' | 'JWT_SECRET' | 'AUTH_JWKS_URL'>) =>
  config.NODE_ENV !== 'production' && config.JWT_SECRET === DEV_JWT_SECRET && config.AUTH_JWKS_URL === '';

/** The users the page offers as demo users: the first few, as the seed made them. */
export function demoUsers(db: Database): Promise<{ id: number; name: string }[]> {
  return db
    .select({ id: users.id, name: users.name })
    .from(users)
    .orderBy(asc(users.id))
    .limit(DEMO_USER_COUNT);
}

const DemoSignInBody = v.strictObject({ user_id: Id });

export const DemoSignIn = v.object({
  token: v.pipe(v.string(), v.description('an HS256 bearer token for the user, role `user`')),
  user_id: Id,
  name: v.string(),
  expires_at: Timestamp,
});
export type DemoSignIn = v.InferOutput<typeof DemoSignIn>;

export const SignedInAs = v.object({ user_id: Id, role: v.picklist(ROLES) });
export type SignedInAs = v.InferOutput<typeof SignedInAs>;

/**
 * POST /auth/demo: signs the seat-map page in as a seeded user, in development only (404
 * otherwise). GET /auth/me: who a bearer token is for, as the API reads it, so the page learns
 * its user id from a provider's token or a pasted one without decoding it itself.
 */
export const signIn = new Hono<AppEnv>()
  .post(
    '/auth/demo',
    describeRoute({
      summary: 'Sign in as a demo user (development only)',
      responses: {
        200: jsonResponse('A short-lived bearer token for the user', DemoSignIn),
        ...problemResponses({
          404: 'Not in development: there are no demo users',
          422: 'No such user',
        }),
      },
    }),
    validate('json', DemoSignInBody),
    async (c) => {
      const { config, db } = c.get('services');
      if (!demoSignInEnabled(config)) {
        throw new ApiError('NOT_FOUND', { detail: 'Signing in as a demo user is for development only' });
      }
      const { user_id: userId } = c.req.valid('json');
      const [user] = await db.select({ name: users.name }).from(users).where(eq(users.id, userId));
      if (!user) throw new ApiError('UNPROCESSABLE', { detail: `No user ${userId}` });
      const token = issueToken(config, { id: userId, role: 'user' }, DEMO_TOKEN_TTL_S);
      const expiresAt = new Date(Date.now() + DEMO_TOKEN_TTL_S * 1000).toISOString();
      return c.json({ token, user_id: userId, name: user.name, expires_at: expiresAt } satisfies DemoSignIn);
    },
  )
  .get(
    '/auth/me',
    describeRoute({
      summary: 'Who the bearer token is for',
      responses: { 200: jsonResponse("The token's user and role", SignedInAs) },
    }),
    authenticate(),
    (c) => {
      const caller = c.get('caller');
      return c.json({ user_id: caller.id, role: caller.role } satisfies SignedInAs);
    },
  );
