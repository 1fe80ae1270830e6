/**
 * npm run db:seed: demo data. The seed system's five events with their seats and users, plus one
 * large event for trying contention. Loads only into an empty database; `--reset` empties it first.
 */
import { sql } from 'drizzle-orm';
import { createDatabase, pingDatabase } from '../lib/booking/db/client.ts';
import { events, seats, users } from '../lib/booking/db/schema.ts';
import { gridSeatNumbers } from '../lib/booking/seats/numbers.ts';
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';

const DEMO_USERS = [
  { name: 'Alice Johnson', email: 'alice@example.com' },
  { name: 'Bob Smith', email: 'bob@example.com' },
  { name: 'Carol White', email: 'carol@example.com' },
  { name: 'Dave Brown', email: 'dave@example.com' },
  { name: 'Eve Davis', email: 'eve@example.com' },
];

const DEMO_EVENTS = [
  {
    name: 'Rock Concert',
    date: '2027-03-15T20:00:00Z',
    location: 'Madison Square Garden',
    rows: 10,
    perRow: 10,
  },
  {
    name: 'Tech Conference 2027',
    date: '2027-04-20T09:00:00Z',
    location: 'Moscone Center',
    rows: 10,
    perRow: 20,
  },
  { name: 'Jazz Night', date: '2027-05-10T19:30:00Z', location: 'Blue Note', rows: 5, perRow: 10 },
  { name: 'Comedy Show', date: '2027-06-05T21:00:00Z', location: 'Comedy Cellar', rows: 6, perRow: 10 },
  {
    name: 'Classical Symphony',
    date: '2027-07-01T19:00:00Z',
    location: 'Carnegie Hall',
    rows: 8,
    perRow: 15,
  },
  {
    name: 'Stadium Flash Sale',
    date: '2027-08-01T18:00:00Z',
    location: 'Wembley Stadium',
    rows: 40,
    perRow: 100,
    // Through a waiting room, open now: /map/<id> shows a buyer the line, then the seats.
    queue: { enabled: true, admit_per_minute: 60, max_active: 50, session_minutes: 10, prequeue_minutes: 0 },
  },
];

const INSERT_CHUNK = 1_000;

runCli('db:seed', async () => {
  const config = parseConfig();
  const db = createDatabase(config);
  try {
    await pingDatabase(db);
    if (process.argv.includes('--reset')) {
      await db.execute(
        sql`truncate queue_tickets, queue_lines, bookings, seats, events, users restart identity cascade`,
      );
    }
    const [{ count } = { count: 0 }] = await db.select({ count: sql<number>`count(*)::int` }).from(users);
    if (count > 0) {
      console.error('db:seed: the database already has data; run `npm run db:seed -- --reset` to start over');
      return;
    }
    await db.transaction(async (tx) => {
      await tx.insert(users).values(DEMO_USERS);
      for (const demo of DEMO_EVENTS) {
        const numbers = gridSeatNumbers(demo.rows, demo.perRow);
        const [event] = await tx
          .insert(events)
          .values({
            name: demo.name,
            date: new Date(demo.date),
            location: demo.location,
            totalSeats: numbers.length,
            queue: 'queue' in demo ? demo.queue : null,
          })
          .returning({ id: events.id });
        if (!event) throw new Error(`could not insert event ${demo.name}`);
        for (let i = 0; i < numbers.length; i += INSERT_CHUNK) {
          await tx
            .insert(seats)
            .values(
              numbers.slice(i, i + INSERT_CHUNK).map((seatNumber) => ({ eventId: event.id, seatNumber })),
            );
        }
      }
    });
    const seatCount = DEMO_EVENTS.reduce((sum, demo) => sum + demo.rows * demo.perRow, 0);
    console.error(`db:seed: ${DEMO_USERS.length} users, ${DEMO_EVENTS.length} events, ${seatCount} seats`);
  } finally {
    await db.$client.end();
  }
});
