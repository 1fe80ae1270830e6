/**
 * The Lua scripts that change seat state in Redis. Each runs atomically, so "all seats or none"
 * and "release only what I hold" need no other coordination. All keys of one event share the
 * hash tag `{e<id>}`, so the scripts also run on a Redis Cluster.
 *
 * A seat key holds `h:<token>` while held (with a TTL) and `b:<userId>` once booked; no key means
 * free. The event's version hash holds, per seat, the Postgres version (`seats.version`) of the
 * last booking or cancellation Redis applied; only a newer one changes the seat. Every change is
 * appended to the event's change stream (for SSE resume) and published on `seat-changes`.
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
 * The version Redis shows for a seat, or -1 when it knows none (a cold event, a restarted Redis):
 * then any change from Postgres is newer.
 */
const SEAT_VERSION = `
local function seat_version(versions, seat_id)
  return tonumber(redis.call('HGET', versions, seat_id) or '-1')
end
`;

/**
 * Marks seats booked by a user, each only if its version is newer than the one Redis shows: a
 * late or replayed confirmation (a paused processor's) never undoes a later cancellation. A
 * stale seat still held by this request's own token is released instead.
 * KEYS: change stream, version hash, seat keys. ARGV: user id, event id, channel, hold token
 * ('' for none), then the seat ids, then their versions (same order as the keys).
 */
export const MARK_BOOKED = `${RECORD_CHANGE}${SEAT_VERSION}
local count = #KEYS - 2
local booked, released = {}, {}
for i = 1, count do
  local key, seat_id, version = KEYS[i + 2], ARGV[4 + i], tonumber(ARGV[4 + count + i])
  if version > seat_version(KEYS[2], seat_id) then
    redis.call('SET', key, 'b:' .. ARGV[1])
    redis.call('HSET', KEYS[2], seat_id, version)
    booked[#booked + 1] = seat_id
  elseif ARGV[4] ~= '' and redis.call('GET', key) == 'h:' .. ARGV[4] then
    redis.call('DEL', key)
    released[#released + 1] = seat_id
  end
end
record_change(KEYS[1], ARGV[3], ARGV[2], 'booked', booked, ',"userId":' .. ARGV[1])
record_change(KEYS[1], ARGV[3], ARGV[2], 'available', released, '')
return #booked
`;

/**
 * Frees seats whose booking was cancelled in Postgres, each only if its version is newer than the
 * one Redis shows. A seat held (not booked) keeps its hold: that is a newer request's.
 * KEYS: change stream, version hash, seat keys. ARGV: event id, channel, then the seat ids, then
 * their versions. Returns the freed seat ids.
 */
export const FREE_BOOKED = `${RECORD_CHANGE}${SEAT_VERSION}
local count = #KEYS - 2
local freed = {}
for i = 1, count do
  local key, seat_id, version = KEYS[i + 2], ARGV[2 + i], tonumber(ARGV[2 + count + i])
  if version > seat_version(KEYS[2], seat_id) then
    redis.call('HSET', KEYS[2], seat_id, version)
    local value = redis.call('GET', key)
    if value and string.sub(value, 1, 2) == 'b:' then
      redis.call('DEL', key)
      freed[#freed + 1] = seat_id
    end
  end
end
record_change(KEYS[1], ARGV[2], ARGV[1], 'available', freed, '')
return freed
`;

/**
 * Makes Redis show what Postgres read, for each seat whose version there is at least the one Redis
 * shows (an older read lost a race with the projector and is ignored). A booked seat overwrites
 * whatever Redis has; a free one removes a booking but keeps a hold (a request still pending).
 * Used to fill a cold event (announce 0) and by the reconciler (announce 1: stream clients see
 * each repair). KEYS: change stream, version hash, seat keys. ARGV: event id, channel, announce,
 * then the seat ids, then their booker ('' for free; 0 for booked by an unknown user), then their
 * versions. Returns the changed ids.
 */
export const SYNC_SEATS = `${RECORD_CHANGE}${SEAT_VERSION}
local count = #KEYS - 2
local changed, freed = {}, {}
for i = 1, count do
  local key, seat_id = KEYS[i + 2], ARGV[3 + i]
  local booker, version = ARGV[3 + count + i], tonumber(ARGV[3 + 2 * count + i])
  local shown = seat_version(KEYS[2], seat_id)
  if version >= shown then
    local value = redis.call('GET', key)
    if booker ~= '' then
      if value ~= 'b:' .. booker then
        redis.call('SET', key, 'b:' .. booker)
        changed[#changed + 1] = seat_id
        if ARGV[3] == '1' then
          record_change(KEYS[1], ARGV[2], ARGV[1], 'booked', {seat_id}, ',"userId":' .. booker)
        end
      end
    elseif value and string.sub(value, 1, 2) == 'b:' then
      redis.call('DEL', key)
      changed[#changed + 1] = seat_id
      freed[#freed + 1] = seat_id
    end
    if version > shown then redis.call('HSET', KEYS[2], seat_id, version) end
  end
end
if ARGV[3] == '1' then record_change(KEYS[1], ARGV[2], ARGV[1], 'available', freed, '') end
return changed
`;
