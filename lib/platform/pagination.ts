/** Keyset pagination shared by the list endpoints: `limit` and an opaque `cursor` in the query. */
import * as v from 'valibot';
import { IdParam } from './validation.ts';

/** `?limit=` between 1 and `max`, `fallback` when absent. */
export const Limit = (fallback: number, max: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[1-9]\d{0,3}$/, `must be an integer from 1 to ${max}`),
      v.toNumber(),
      v.maxValue(max, `must be an integer from 1 to ${max}`),
    ),
    String(fallback),
  );

/** `?cursor=`: where the previous page ended (a row id today; clients treat it as opaque). */
export const Cursor = v.optional(IdParam);

/**
 * The RFC 8288 `Link` header of the next page, when there is one: the request's own URL with the
 * cursor replaced, so every other parameter carries over.
 */
export function nextLink(requestUrl: string, cursor: number | undefined): Record<string, string> {
  if (cursor === undefined) return {};
  const url = new URL(requestUrl);
  url.searchParams.set('cursor', String(cursor));
  return { link: `<${url.pathname}${url.search}>; rel="next"` };
}
