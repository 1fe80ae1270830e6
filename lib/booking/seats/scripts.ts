/**
 * The Lua scripts that change seat state in Redis, each with its typed wrapper. Each runs
 * atomically, so "all seats or none" and "release only what I hold" need no other coordination.
 * All keys of one event share the hash tag `{e<id>}`, so the scripts also run on a Redis Cluster.
 *
 * A seat key holds `h:<token>` while held (with a TTL) and `b:<userId>` once booked; no key means
 * free. The event's version hash holds, per seat, the Postgres version (`seats.version`) of the
 * last booking or cancellation Redis applied; only a newer one changes the seat. Every change is
 * appended to the event's change stream (for SSE resume) and published on `seat-changes`.
 *
 * Every script takes its KEYS and ARGV in one layout (built by `inLayout`), names them in locals
 * at its top and works with the names only:
 * - KEYS: the event's change stream, the script's other fixed keys, then one key per seat;
 * - ARGV: the event id, the changes channel, the script's other fixed arguments, then the seat
 *   ids, then each further per-seat list (as long as the seat ids, in their order).
 */
import type { ChainableCommander } from 'ioredis';
import type { Redis } from '../../platform/redis.ts';
import { SLIDING_WINDOW_LUA, type SlidingWindows } from '../../platform/sliding-window.ts';
import { SEAT_CHANGES_CHANNEL, seatKeys } from './keys.ts';

/**
 * What the wrappers need of a client. ioredis turns each script into a command of the client and
 * of the pipelines it creates afterwards; the command runs with EVALSHA (sending the script with
 * EVAL only when Redis lacks it, once per connection) and is auto-pipelined like any other.
 */
export type ScriptClient = Pick<Redis, 'defineCommand'>;

declare const seatScriptsDefined: unique symbol;

/** A pipeline of a client the scripts are defined on (see `scriptPipeline`): what `queue` takes. */
export type ScriptPipeline = ChainableCommander & { readonly [seatScriptsDefined]: true };

/** One seat as Postgres has it, with the version of its last change. */
export interface SeatTruth {
  seatId: number;
  /** The user of its CONFIRMED booking; null when free. */
  bookedBy: number | null;
  version: number;
}

/** A seat an outcome changed, with the seat's Postgres version after that change. */
export interface VersionedSeat {
  seatId: number;
  version: number;
}

export type TakeResult = (
  | { kind: 'held'; expiresAt: number }
  | { kind: 'cold' }
  | { kind: 'limited' }
  | { kind: 'unknown'; seatIds: number[] }
  /** `lapsesAt`: per taken seat, when its hold lapses (ms since the epoch); null when booked. */
  | { kind: 'taken'; seatIds: number[]; lapsesAt: (number | null)[] }
) & {
  /** With `windows`: the tokens each limit has left (-1: none were left), unless `cold`. */
  left?: number[];
};

type ScriptArgument = string | number;

/**
 * numkeys, KEYS and ARGV in the scripts' one layout (see the top of this file), for the seats of
 * one event.
 */
function inLayout(
  eventId: number,
  seatIds: readonly number[],
  fixed: { keys?: readonly string[]; args?: readonly ScriptArgument[] },
  perSeat: readonly (readonly ScriptArgument[])[] = [],
): ScriptArgument[] {
  const keys = [
    seatKeys.changes(eventId),
    ...(fixed.keys ?? []),
    ...seatIds.map((seatId) => seatKeys.seat(eventId, seatId)),
  ];
  const args = [eventId, SEAT_CHANGES_CHANNEL, ...(fixed.args ?? []), ...seatIds, ...perSeat.flat()];
  return [keys.length, ...keys, ...args];
}

/**
 * A script and its typed call: `layout` turns named arguments into numkeys, KEYS and ARGV, and
 * `result` turns the reply into a typed result.
 */
class SeatScript<Name extends string, Args, Reply, Result> {
  constructor(
    readonly name: Name,
    readonly lua: string,
    private readonly layout: (args: Args) => ScriptArgument[],
    private readonly result: (reply: Reply) => Result,
  ) {}

  /** Runs the script: one EVALSHA, auto-pipelined with the client's other commands of the tick. */
  async run(redis: ScriptClient, args: Args): Promise<Result> {
    type Command = (...keysAndArgs: ScriptArgument[]) => Promise<Reply>;
    const commands = defineSeatScripts(redis) as unknown as Record<Name, Command>;
    return this.result(await commands[this.name](...this.layout(args)));
  }

  /** Queues the script on a pipeline, whose `exec` reports its error (its reply is not read). */
  queue(pipeline: ScriptPipeline, args: Args): void {
    const commands = pipeline as unknown as Record<Name, (...keysAndArgs: ScriptArgument[]) => unknown>;
    commands[this.name](...this.layout(args));
  }
}

/**
 * Shared by every script: `slice` reads a per-seat list out of KEYS or ARGV, `record_change`
 * appends a change to the stream and publishes it.
 */
const HELPERS = `
local function slice(list, skip, count)
  local values = {}
  for i = 1, count do values[i] = list[skip + i] end
  return values
end

local function record_change(change_stream, channel, event_id, state, seat_ids, extra)
  if #seat_ids == 0 then return '' end
  local seats = '[' .. table.concat(seat_ids, ',') .. ']'
  local change = '{"eventId":' .. event_id .. ',"state":"' .. state .. '","seatIds":' .. seats .. extra
  local id = redis.call('XADD', change_stream, 'MAXLEN', '~', 10000, '*', 'change', change .. '}')
  redis.call('PUBLISH', channel, change .. ',"id":"' .. id .. '"}')
  return id
end
`;

/**
 * The version Redis shows for a seat, or -1 when it knows none (a cold event, a restarted Redis):
 * then any change from Postgres is newer.
 */
const SEAT_VERSION = `
local function seat_version(version_hash, seat_id)
  return tonumber(redis.call('HGET', version_hash, seat_id) or '-1')
end
`;

/**
 * Counts the request against its rate limits (`windows`, see lib/platform/rate-limit.ts; none
 * when off) and holds every seat for `ttlMs` under `token`, or none of them: `cold` when the event
 * is not in the cache (nothing counted), `limited` when over a limit, `unknown` naming seats not
 * of the event, `taken` naming seats held or booked, with when each hold lapses. Counting the
 * limits here makes a refused request one round trip; their keys carry the event's hash tag, so
 * on a Redis Cluster they share the seats' slot (the limits of `book` are therefore per event).
 */
export const takeSeats = new SeatScript(
  'takeSeats',
  `${HELPERS}${SLIDING_WINDOW_LUA}
-- KEYS: change stream, seat map, two keys per limit (its current and previous bucket), then one
-- key per seat.
-- ARGV: event id, channel, token, ttl ms, limit count, now ms, window ms, each limit's maximum,
-- then the seat ids.
local change_stream, seat_map = KEYS[1], KEYS[2]
local event_id, channel, token, ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit_count, now_ms, window_ms = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local limit_maxes = slice(ARGV, 7, limit_count)
local limit_keys = slice(KEYS, 2, 2 * limit_count)
local seat_count = #KEYS - 2 - 2 * limit_count
local seat_keys = slice(KEYS, 2 + 2 * limit_count, seat_count)
local seat_ids = slice(ARGV, 7 + limit_count, seat_count)

if redis.call('EXISTS', seat_map) == 0 then return {'cold', ''} end
local left, limited = {}, false
for i = 1, limit_count do
  left[i] = sliding_window(limit_keys[2 * i - 1], limit_keys[2 * i], tonumber(limit_maxes[i]), now_ms, window_ms)
  if left[i] < 0 then limited = true end
end
left = table.concat(left, ',')
if limited then return {'limited', left} end
local unknown = {'unknown', left}
local taken, lapses = {'taken', left}, {}
for i = 1, #seat_ids do
  if redis.call('HEXISTS', seat_map, seat_ids[i]) == 0 then
    unknown[#unknown + 1] = seat_ids[i]
  else
    local ttl = redis.call('PTTL', seat_keys[i])
    if ttl ~= -2 then
      taken[#taken + 1] = seat_ids[i]
      lapses[#lapses + 1] = ttl
    end
  end
end
if #unknown > 2 then return unknown end
if #taken > 2 then
  for i = 1, #lapses do taken[#taken + 1] = lapses[i] end
  return taken
end
for i = 1, #seat_keys do
  redis.call('SET', seat_keys[i], 'h:' .. token, 'PX', ttl_ms)
end
local now = redis.call('TIME')
local expires_at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ttl_ms)
record_change(change_stream, channel, event_id, 'held', seat_ids, ',"expiresAt":' .. expires_at)
return {'held', left, tostring(expires_at)}
`,
  (args: {
    eventId: number;
    seatIds: readonly number[];
    token: string;
    ttlMs: number;
    windows?: SlidingWindows | undefined;
  }) => {
    const limits = args.windows?.limits ?? [];
    return inLayout(args.eventId, args.seatIds, {
      keys: [
        seatKeys.seatMap(args.eventId),
        ...limits.flatMap((limit) => [limit.currentKey, limit.previousKey]),
      ],
      args: [
        args.token,
        args.ttlMs,
        limits.length,
        args.windows?.nowMs ?? 0,
        args.windows?.windowMs ?? 1,
        ...limits.map((limit) => limit.max),
      ],
    });
  },
  ([kind, leftList = '', ...rest]: string[]): TakeResult => {
    const left = leftList === '' ? {} : { left: leftList.split(',').map(Number) };
    if (kind === 'held') return { kind, expiresAt: Number(rest[0]), ...left };
    if (kind === 'unknown') return { kind, seatIds: rest.map(Number), ...left };
    if (kind === 'taken') {
      // A PTTL each: -1 for a booked seat (no expiry), else the hold's ms left.
      const seatIds = rest.slice(0, rest.length / 2).map(Number);
      const now = Date.now();
      const lapsesAt = rest.slice(rest.length / 2).map((ttl) => (Number(ttl) < 0 ? null : now + Number(ttl)));
      return { kind, seatIds, lapsesAt, ...left };
    }
    if (kind === 'limited') return { kind, ...left };
    return { kind: 'cold' };
  },
);

/**
 * Compare-and-delete: frees each seat still held by this token (a hold that expired and was
 * taken by someone else is left alone). Resolves to the freed seat ids.
 */
export const releaseHold = new SeatScript(
  'releaseHold',
  `${HELPERS}
-- KEYS: change stream, then one key per seat.
-- ARGV: event id, channel, token, then the seat ids.
local change_stream = KEYS[1]
local seat_count = #KEYS - 1
local seat_keys = slice(KEYS, 1, seat_count)
local event_id, channel, token = ARGV[1], ARGV[2], ARGV[3]
local seat_ids = slice(ARGV, 3, seat_count)

local freed = {}
for i = 1, #seat_ids do
  if redis.call('GET', seat_keys[i]) == 'h:' .. token then
    redis.call('DEL', seat_keys[i])
    freed[#freed + 1] = seat_ids[i]
  end
end
record_change(change_stream, channel, event_id, 'available', freed, '')
return freed
`,
  (args: { eventId: number; seatIds: readonly number[]; token: string }) =>
    inLayout(args.eventId, args.seatIds, { args: [args.token] }),
  (freed: string[]) => freed.map(Number),
);

/**
 * Marks seats booked by a user, each only if its version is newer than the one Redis shows: a
 * late or replayed confirmation (a paused processor's) never undoes a later cancellation. A
 * stale seat still held by this request's own `holdToken` is released instead. Resolves to how
 * many seats it booked.
 */
export const markBooked = new SeatScript(
  'markBooked',
  `${HELPERS}${SEAT_VERSION}
-- KEYS: change stream, version hash, then one key per seat.
-- ARGV: event id, channel, user id, hold token ('' for none), then the seat ids, then their versions.
local change_stream, version_hash = KEYS[1], KEYS[2]
local seat_count = #KEYS - 2
local seat_keys = slice(KEYS, 2, seat_count)
local event_id, channel, user_id, hold_token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local seat_ids = slice(ARGV, 4, seat_count)
local versions = slice(ARGV, 4 + seat_count, seat_count)

local booked, released = {}, {}
for i = 1, #seat_ids do
  local seat_key, seat_id, version = seat_keys[i], seat_ids[i], tonumber(versions[i])
  if version > seat_version(version_hash, seat_id) then
    redis.call('SET', seat_key, 'b:' .. user_id)
    redis.call('HSET', version_hash, seat_id, version)
    booked[#booked + 1] = seat_id
  elseif hold_token ~= '' and redis.call('GET', seat_key) == 'h:' .. hold_token then
    redis.call('DEL', seat_key)
    released[#released + 1] = seat_id
  end
end
record_change(change_stream, channel, event_id, 'booked', booked, ',"userId":' .. user_id)
record_change(change_stream, channel, event_id, 'available', released, '')
return #booked
`,
  (args: { eventId: number; seats: readonly VersionedSeat[]; userId: number; holdToken: string | null }) =>
    inLayout(
      args.eventId,
      args.seats.map((seat) => seat.seatId),
      { keys: [seatKeys.versions(args.eventId)], args: [args.userId, args.holdToken ?? ''] },
      [args.seats.map((seat) => seat.version)],
    ),
  (bookedCount: number) => bookedCount,
);

/**
 * Frees seats whose booking was cancelled in Postgres, each only if its version is newer than the
 * one Redis shows. A seat held (not booked) keeps its hold: that is a newer request's. Resolves
 * to the freed seat ids.
 */
export const freeBooked = new SeatScript(
  'freeBooked',
  `${HELPERS}${SEAT_VERSION}
-- KEYS: change stream, version hash, then one key per seat.
-- ARGV: event id, channel, then the seat ids, then their versions.
local change_stream, version_hash = KEYS[1], KEYS[2]
local seat_count = #KEYS - 2
local seat_keys = slice(KEYS, 2, seat_count)
local event_id, channel = ARGV[1], ARGV[2]
local seat_ids = slice(ARGV, 2, seat_count)
local versions = slice(ARGV, 2 + seat_count, seat_count)

local freed = {}
for i = 1, #seat_ids do
  local seat_key, seat_id, version = seat_keys[i], seat_ids[i], tonumber(versions[i])
  if version > seat_version(version_hash, seat_id) then
    redis.call('HSET', version_hash, seat_id, version)
    local value = redis.call('GET', seat_key)
    if value and string.sub(value, 1, 2) == 'b:' then
      redis.call('DEL', seat_key)
      freed[#freed + 1] = seat_id
    end
  end
end
record_change(change_stream, channel, event_id, 'available', freed, '')
return freed
`,
  (args: { eventId: number; seats: readonly VersionedSeat[] }) =>
    inLayout(
      args.eventId,
      args.seats.map((seat) => seat.seatId),
      { keys: [seatKeys.versions(args.eventId)] },
      [args.seats.map((seat) => seat.version)],
    ),
  (freed: string[]) => freed.map(Number),
);

/**
 * Makes Redis show what Postgres read, for each seat whose version there is at least the one Redis
 * shows (an older read lost a race with the projector and is ignored). A booked seat overwrites
 * whatever Redis has; a free one removes a booking but keeps a hold (a request still pending).
 * Used to fill a cold event (`announce` false) and by the reconciler (`announce`: stream clients
 * see each repair). Resolves to the changed seat ids.
 */
export const syncSeats = new SeatScript(
  'syncSeats',
  `${HELPERS}${SEAT_VERSION}
-- KEYS: change stream, version hash, then one key per seat.
-- ARGV: event id, channel, announce ('1' or '0'), then the seat ids, then their bookers ('' for
-- free; 0 for booked by an unknown user), then their versions.
local change_stream, version_hash = KEYS[1], KEYS[2]
local seat_count = #KEYS - 2
local seat_keys = slice(KEYS, 2, seat_count)
local event_id, channel, announce = ARGV[1], ARGV[2], ARGV[3] == '1'
local seat_ids = slice(ARGV, 3, seat_count)
local bookers = slice(ARGV, 3 + seat_count, seat_count)
local versions = slice(ARGV, 3 + 2 * seat_count, seat_count)

local changed, freed = {}, {}
for i = 1, #seat_ids do
  local seat_key, seat_id, booker, version = seat_keys[i], seat_ids[i], bookers[i], tonumber(versions[i])
  local shown = seat_version(version_hash, seat_id)
  if version >= shown then
    local value = redis.call('GET', seat_key)
    if booker ~= '' then
      if value ~= 'b:' .. booker then
        redis.call('SET', seat_key, 'b:' .. booker)
        changed[#changed + 1] = seat_id
        if announce then
          record_change(change_stream, channel, event_id, 'booked', {seat_id}, ',"userId":' .. booker)
        end
      end
    elseif value and string.sub(value, 1, 2) == 'b:' then
      redis.call('DEL', seat_key)
      changed[#changed + 1] = seat_id
      freed[#freed + 1] = seat_id
    end
    if version > shown then redis.call('HSET', version_hash, seat_id, version) end
  end
end
if announce then record_change(change_stream, channel, event_id, 'available', freed, '') end
return changed
`,
  (args: { eventId: number; seats: readonly SeatTruth[]; announce: boolean }) =>
    inLayout(
      args.eventId,
      args.seats.map((seat) => seat.seatId),
      { keys: [seatKeys.versions(args.eventId)], args: [args.announce ? 1 : 0] },
      [args.seats.map((seat) => seat.bookedBy ?? ''), args.seats.map((seat) => seat.version)],
    ),
  (changed: string[]) => changed.map(Number),
);

/** Every seat script, as ioredis defines them on a client (and a test loads them). */
export const SEAT_SCRIPTS = [takeSeats, releaseHold, markBooked, freeBooked, syncSeats];

const clientsWithScripts = new WeakSet<ScriptClient>();

/**
 * Defines every seat script on the client, once: as commands of it and of its later pipelines.
 * Call it when the client is created, before its first command: an auto-pipeline ioredis opened
 * earlier in the same tick would not have the scripts ("pipeline[name] is not a function").
 */
export function defineSeatScripts(redis: ScriptClient): ScriptClient {
  if (!clientsWithScripts.has(redis)) {
    for (const { name, lua } of SEAT_SCRIPTS) redis.defineCommand(name, { lua });
    clientsWithScripts.add(redis);
  }
  return redis;
}

/** A pipeline of the client that the seat scripts can be queued on. */
export function scriptPipeline(redis: ScriptClient & Pick<Redis, 'pipeline'>): ScriptPipeline {
  defineSeatScripts(redis);
  return redis.pipeline() as ScriptPipeline;
}
