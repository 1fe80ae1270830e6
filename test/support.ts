/** Shared test setup: real services from the test environment (see scripts/test.sh). */
import { randomUUID } from 'node:crypto';
import { events, seats, users } from '../lib/booking/db/schema.ts';
import { gridSeatNumbers } from '../lib/booking/seats/numbers.ts';
import { issueToken } from '../lib/platform/auth.ts';
import { parseConfig } from '../lib/platform/config.ts';
import type { Role } from '../lib/platform/env.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { createServices, type Services } from '../lib/services.ts';

export function testServices(overrides: Record<string, string> = {}): Services {
  const config = parseConfig({ ...process.env, ...overrides });
  return createServices(
    config,
    createLogger({ LOG_LEVEL: process.env.TEST_LOG_LEVEL === undefined ? 'silent' : config.LOG_LEVEL }),
  );
}

export interface TestEvent {
  eventId: number;
  seatIds: number[];
  seatNumbers: string[];
}

/** A fresh event of its own with `seatCount` seats, so a test never depends on another's rows. */
export async function createTestEvent(
  services: Services,
  seatCount: number,
  name = 'Test event',
): Promise<TestEvent> {
  return services.db.transaction(async (tx) => {
    const [event] = await tx
      .insert(events)
      .values({
        name: `${name} ${randomUUID().slice(0, 8)}`,
        date: new Date('2030-01-01T20:00:00Z'),
        location: 'Test Hall',
        totalSeats: seatCount,
      })
      .returning({ id: events.id });
    if (!event) throw new Error('no event');
    const seatNumbers = gridSeatNumbers(Math.ceil(seatCount / 20), 20).slice(0, seatCount);
    const rows =
      seatCount === 0
        ? []
        : await tx
            .insert(seats)
            .values(seatNumbers.map((seatNumber) => ({ eventId: event.id, seatNumber })))
            .returning({ id: seats.id });
    return { eventId: event.id, seatIds: rows.map((row) => row.id), seatNumbers };
  });
}

/** Fresh users of their own; returns their ids. */
export async function createTestUsers(services: Services, count: number): Promise<number[]> {
  const tag = randomUUID().slice(0, 8);
  const rows = await services.db
    .insert(users)
    .values(
      Array.from({ length: count }, (_, i) => ({
        name: `User ${i}`,
        email: `user-${tag}-${i}@test.example`,
      })),
    )
    .returning({ id: users.id });
  return rows.map((row) => row.id);
}

/** `Authorization: Bearer …` for a user (or an admin), signed with the test JWT_SECRET. */
export async function bearer(userId: number, role: Role = 'user'): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${issueToken(parseConfig(), { id: userId, role })}` };
}
