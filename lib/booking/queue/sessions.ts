/**
 * Admitted buyers' sessions, as `book` checks them: a Redis hash per event, admission token →
 * `<userId>:<expiresAtMs>`. The admission function rewrites it from Postgres on every tick
 * (queue_tickets holds every session), so a restarted Redis has it back within one tick, and
 * until then a check that finds the hash not loaded asks Postgres: an admitted buyer is never
 * refused for Redis's loss.
 */
import { and, eq } from 'drizzle-orm';
import type { Services } from '../../services.ts';
import { queueTickets } from '../db/schema.ts';
import { seatKeys } from '../seats/keys.ts';

/** The event's hash tag, so its sessions share a slot with its seats on a Redis Cluster. */
const sessionsKey = (eventId: number) => `sessions:${seatKeys.tag(eventId)}`;
/** A field present once the hash holds every session: without it the hash is not to be believed. */
const LOADED_FIELD = '~loaded';

export interface Session {
  userId: number;
  expiresAtMs: number;
}

/** A session as the hash holds it, under its admission token. */
export interface AdmittedSession extends Session {
  token: string;
}

/** The session of this admission token for the event, or null: none, ended or never admitted. */
export async function findSession(
  services: Services,
  eventId: number,
  token: string,
): Promise<Session | null> {
  try {
    const [value, loaded] = await services.redis.hmget(sessionsKey(eventId), token, LOADED_FIELD);
    if (loaded !== null) {
      if (value == null) return null;
      const [userId, expiresAtMs] = value.split(':').map(Number);
      return { userId: userId ?? 0, expiresAtMs: expiresAtMs ?? 0 };
    }
  } catch (error) {
    services.logger.warn({ err: error, eventId }, 'admission sessions unavailable (Redis); asking Postgres');
  }
  const [row] = await services.db
    .select({
      userId: queueTickets.userId,
      expiresAt: queueTickets.sessionExpiresAt,
      endedAt: queueTickets.endedAt,
    })
    .from(queueTickets)
    .where(and(eq(queueTickets.eventId, eventId), eq(queueTickets.admissionToken, token)));
  if (!row?.expiresAt || row.endedAt) return null;
  return { userId: row.userId, expiresAtMs: row.expiresAt.getTime() };
}

/** Ends a session at once (a booking under it was confirmed); Postgres records it within a tick. */
export async function endSession(services: Services, eventId: number, token: string): Promise<void> {
  await services.redis.hdel(sessionsKey(eventId), token);
}

/** Makes the event's hash hold exactly these sessions, in one transaction. */
export async function replaceSessions(
  services: Services,
  eventId: number,
  sessions: readonly AdmittedSession[],
): Promise<void> {
  const key = sessionsKey(eventId);
  const fields: string[] = [LOADED_FIELD, '1'];
  for (const session of sessions) fields.push(session.token, `${session.userId}:${session.expiresAtMs}`);
  await services.redis
    .multi()
    .del(key)
    .hset(key, ...fields)
    .exec();
}
