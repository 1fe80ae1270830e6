import { and, eq, isNotNull, or, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events, queueLines, queueTickets } from '../../lib/booking/db/schema.ts';
import { OnSaleAt, QueueSettings } from '../../lib/booking/queue/settings.ts';
import { authenticate, requireAdmin } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import { EventView, eventColumns, eventView } from './event-view.ts';
import { eventViews } from './event-views.ts';

const Params = v.object({ eventId: IdParam });

/** The sale settings of an event; a field left out is left as it is, null removes it. */
export const UpdateEventBody = v.pipe(
  v.strictObject({
    on_sale_at: v.optional(v.nullable(OnSaleAt)),
    queue: v.optional(v.nullable(QueueSettings)),
  }),
  v.check((body) => Object.keys(body).length > 0, 'give on_sale_at, queue or both'),
);

/**
 * PATCH /events/:eventId (admin): sets when the event goes on sale and its waiting room. The
 * on-sale time is fixed once the line has handed out positions after it (a buyer who joined after
 * on-sale is placed behind the pre-queue, which a later on-sale time would grow). `book` and the
 * queue functions see a change within SALE_SETTINGS_MAX_AGE_MS.
 */
export const updateEvent = new Hono<AppEnv>().patch(
  '/events/:eventId',
  describeRoute({
    summary: "Change an event's on-sale time and waiting room (admin)",
    responses: {
      200: jsonResponse('The event as it is now', EventView),
      ...problemResponses({
        404: 'No such event',
        409: 'The line already handed out places after on-sale: its on-sale time is fixed',
      }),
    },
  }),
  authenticate(),
  requireAdmin(),
  validate('param', Params),
  validate('json', UpdateEventBody),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const body = c.req.valid('json');
    const { db } = c.get('services');

    const updated = await db.transaction(async (tx) => {
      const [event] = await tx
        .select({ onSaleAt: events.onSaleAt })
        .from(events)
        .where(eq(events.id, eventId))
        .for('update');
      if (!event) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
      const onSaleAt =
        body.on_sale_at === undefined
          ? undefined
          : body.on_sale_at === null
            ? null
            : new Date(body.on_sale_at);
      if (onSaleAt !== undefined && onSaleAt?.getTime() !== event.onSaleAt?.getTime()) {
        // Joins take the line's row lock: none can place a ticket between this check and the commit.
        await tx.execute(
          sql`select 1 from ${queueLines} where ${queueLines.eventId} = ${eventId} for update`,
        );
        const [placed] = await tx
          .select({ eventId: queueLines.eventId })
          .from(queueLines)
          .where(
            and(
              eq(queueLines.eventId, eventId),
              or(
                isNotNull(queueLines.shuffledAt),
                sql`exists (select 1 from ${queueTickets} where ${queueTickets.eventId} = ${eventId} and not ${queueTickets.prequeue})`,
              ),
            ),
          );
        if (placed) {
          throw new ApiError('CONFLICT', {
            detail:
              'The line already gave buyers places after on-sale; the on-sale time can no longer change',
            extensions: { reason: 'on_sale_fixed' },
          });
        }
      }
      await tx
        .update(events)
        .set({
          ...(onSaleAt === undefined ? {} : { onSaleAt }),
          ...(body.queue === undefined ? {} : { queue: body.queue }),
        })
        .where(eq(events.id, eventId));
      const [row] = await tx.select(eventColumns).from(events).where(eq(events.id, eventId));
      return row;
    });
    if (!updated) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
    eventViews(c.get('services')).forget();
    return c.json(eventView(updated), 200);
  },
);
