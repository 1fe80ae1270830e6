/**
 * An event's on-sale time and waiting room, which `book` checks on every request: read from
 * Postgres once per SALE_SETTINGS_MAX_AGE_MS per process. Past that age the last read still
 * answers while a fresh one is made (a request never waits for Postgres but the first for an
 * event), and it is kept while Postgres does not answer: `book` serves through that outage.
 */
import { eq } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Services } from '../../services.ts';
import { events } from '../db/schema.ts';
import type { QueueSettings } from './settings.ts';

export interface SaleSettings {
  onSaleAt: Date | null;
  /** The waiting room's settings (null: none); `enabled` says whether buyers must go through it. */
  queue: QueueSettings | null;
}

/** Events remembered at once, the least recently asked for forgotten first. */
const MAX_REMEMBERED = 10_000;

/** An event's settings, or null for no such event (remembered as such for the same while). */
type Remembered = { sale: SaleSettings | null };

const salesOf = new WeakMap<Services, LRUCache<number, Remembered>>();

async function readSale(services: Services, eventId: number): Promise<Remembered> {
  const [row] = await services.db
    .select({ onSaleAt: events.onSaleAt, queue: events.queue })
    .from(events)
    .where(eq(events.id, eventId));
  if (!row) return { sale: null };
  return { sale: { onSaleAt: row.onSaleAt, queue: row.queue } };
}

/** The event's sale settings (null: no such event), at most SALE_SETTINGS_MAX_AGE_MS old. */
export async function saleSettings(services: Services, eventId: number): Promise<SaleSettings | null> {
  const maxAgeMs = services.config.SALE_SETTINGS_MAX_AGE_MS;
  if (maxAgeMs === 0) return (await readSale(services, eventId)).sale;
  let sales = salesOf.get(services);
  if (!sales) {
    sales = new LRUCache<number, Remembered>({
      max: MAX_REMEMBERED,
      ttl: maxAgeMs,
      fetchMethod: (id) => readSale(services, id),
      allowStale: true,
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
    });
    salesOf.set(services, sales);
  }
  const remembered = await sales.fetch(eventId);
  return remembered?.sale ?? null;
}
