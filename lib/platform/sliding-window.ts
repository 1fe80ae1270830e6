/**
 * The sliding-window rate limit as a script counts it in the same round trip as its own work (the
 * booking hot path: lib/booking/seats/scripts.ts), apart from lib/platform/rate-limit.ts so that
 * the seat scripts need nothing of the HTTP platform.
 */
/** Where a limit stands after a request was counted, as @upstash/ratelimit reports it. */
export interface LimitResult {
  success: boolean;
  limit: number;
  remaining: number;
  /** When the current window ends, ms since the epoch. */
  reset: number;
}

/**
 * @upstash/ratelimit's sliding window (its `slidingWindowLimitScript`, without the dynamic limit)
 * as a Lua function, for a script that counts a request in the same round trip as its own work
 * (the booking hot path: lib/booking/seats/scripts.ts). Two fixed buckets; the previous one
 * weighs by how much of it the sliding window still covers. Returns the tokens left after this
 * request, or -1 when none were left (the request is then not counted).
 */
export const SLIDING_WINDOW_LUA = `
local function sliding_window(current_key, previous_key, max, now_ms, window_ms)
  local current = tonumber(redis.call('GET', current_key) or '0')
  local previous = tonumber(redis.call('GET', previous_key) or '0')
  previous = math.floor((1 - (now_ms % window_ms) / window_ms) * previous)
  if previous + current >= max then return -1 end
  local counted = redis.call('INCRBY', current_key, 1)
  if counted == 1 then redis.call('PEXPIRE', current_key, window_ms * 2 + 1000) end
  return max - (counted + previous)
end
`;

/** Limits counted by a script (SLIDING_WINDOW_LUA): each one's two bucket keys, at one clock reading. */
export interface SlidingWindows {
  nowMs: number;
  windowMs: number;
  limits: { max: number; currentKey: string; previousKey: string }[];
}

/** What SLIDING_WINDOW_LUA's counts mean, for `enforceLimits`. */
export function slidingWindowResults(windows: SlidingWindows, left: readonly number[]): LimitResult[] {
  const reset = (Math.floor(windows.nowMs / windows.windowMs) + 1) * windows.windowMs;
  return windows.limits.map(({ max }, i) => {
    const remaining = left[i] ?? 0;
    return { success: remaining >= 0, limit: max, remaining: Math.max(0, remaining), reset };
  });
}
