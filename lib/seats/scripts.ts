/**
 * The Lua scripts that change seat state in Redis. Each runs atomically, so "all seats or none"
 * and "release only what I hold" need no other coordination. All keys of one event share the
 * hash tag `{e<id>}`, so the scripts also run on a Redis Cluster.
 *
 * A seat key holds `h:<token>` while held (with a TTL) and `b:<userId>` once booked; no key means
 * free. Every change is appended to the event's change stream (for SSE resume) and published on
 * the `seat-changes` channel.
 */

/** Appends a change to the stream and publishes it; shared by every script below. */
const RECORD_CHANGE = `
local function record_change(stream, channel, event_id, state, seat_ids, extra)
  if #seat_ids == 0 then return '' end
  local seats = '[' .. table.concat(seat_ids, ',') .. ']'
  local change = '{"eventId":' .. event_id .. ',"state":"' .. state .. '","seatIds":' .. seats .. extra
  local id = redis.call('XADD', stream, 'MAXLEN', '~', 10000, '*', 'change', change .. '}')
  redis.call('PUBLISH', channel, change .. ',"id":"' .. id .. '"}')
  return id
end
`;

/**
 * KEYS: seat map hash, change stream, then one key per seat.
 * ARGV: token, ttl ms, event id, channel, then the seat ids (same order as the keys).
 * Returns {'cold'} when the event is not in the cache, {'unknown', seat ids...} for seats not of
 * the event, {'taken', seat ids...} when any seat is held or booked, else {'held', expiresAtMs}.
 */
export const TAKE_SEATS = `${RECORD_CHANGE}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'cold'} end
local unknown = {'unknown'}
local taken = {'taken'}
local seat_ids = {}
for i = 3, #KEYS do
  local seat_id = ARGV[i + 2]
  seat_ids[#seat_ids + 1] = seat_id
  if redis.call('HEXISTS', KEYS[1], seat_id) == 0 then
    unknown[#unknown + 1] = seat_id
  elseif redis.call('EXISTS', KEYS[i]) == 1 then
    taken[#taken + 1] = seat_id
  end
end
if #unknown > 1 then return unknown end
if #taken > 1 then return taken end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], 'h:' .. ARGV[1], 'PX', ARGV[2])
end
local now = redis.call('TIME')
local expires_at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
record_change(KEYS[2], ARGV[4], ARGV[3], 'held', seat_ids, ',"expiresAt":' .. expires_at)
return {'held', tostring(expires_at)}
`;

/**
 * Compare-and-delete: frees each seat still held by this token (a hold that expired and was
 * taken by someone else is left alone). KEYS: change stream, seat keys. ARGV: token, event id,
 * channel, seat ids. Returns the freed seat ids.
 */
export const RELEASE_HOLD = `${RECORD_CHANGE}
local freed = {}
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == 'h:' .. ARGV[1] then
    redis.call('DEL', KEYS[i])
    freed[#freed + 1] = ARGV[i + 2]
  end
end
record_change(KEYS[1], ARGV[3], ARGV[2], 'available', freed, '')
return freed
`;

/**
 * Marks seats booked by a user, whoever held them: Postgres has confirmed it, and Postgres is
 * the truth. KEYS: change stream, seat keys. ARGV: user id, event id, channel, seat ids.
 */
export const MARK_BOOKED = `${RECORD_CHANGE}
local seat_ids = {}
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], 'b:' .. ARGV[1])
  seat_ids[#seat_ids + 1] = ARGV[i + 2]
end
record_change(KEYS[1], ARGV[3], ARGV[2], 'booked', seat_ids, ',"userId":' .. ARGV[1])
return #seat_ids
`;

/**
 * Frees seats whose booking was cancelled in Postgres. KEYS: change stream, seat keys.
 * ARGV: event id, channel, seat ids. A seat already held again by a new request keeps its hold.
 */
export const FREE_BOOKED = `${RECORD_CHANGE}
local freed = {}
for i = 2, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if value and string.sub(value, 1, 2) == 'b:' then
    redis.call('DEL', KEYS[i])
    freed[#freed + 1] = ARGV[i + 1]
  end
end
record_change(KEYS[1], ARGV[2], ARGV[1], 'available', freed, '')
return freed
`;
