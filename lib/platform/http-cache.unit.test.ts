import assert from 'node:assert/strict';
import { it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { CachedBody, cachedResponse, MIN_COMPRESSED_BYTES, matchesEtag } from './http-cache.ts';

const large = CachedBody.json({
  seats: Array.from({ length: 200 }, (_, i) => ({ seat_id: i + 1, state: 'available' })),
});
const small = CachedBody.json({ id: 1, name: 'Opening Night' });
const app = new Hono()
  .get('/large', (c) =>
    cachedResponse(c, large, { cacheControl: 'public, max-age=1', headers: { 'x-data-source': 'redis' } }),
  )
  .get('/small', (c) => cachedResponse(c, small, { cacheControl: 'public, max-age=1' }));

it('makes a weak ETag from the bytes: the same bytes, the same tag', () => {
  assert.match(large.etag, /^W\/"[\w-]{27}"$/);
  assert.equal(CachedBody.json({ id: 1, name: 'Opening Night' }).etag, small.etag);
  assert.notEqual(CachedBody.json({ id: 2, name: 'Opening Night' }).etag, small.etag);
  assert.ok(large.bytes.length >= MIN_COMPRESSED_BYTES && small.bytes.length < MIN_COMPRESSED_BYTES);
});

it('compresses each coding once, as Accept-Encoding prefers, Brotli before gzip on a tie', async () => {
  const cases: [string | undefined, string | null][] = [
    [undefined, null],
    ['identity', null],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['br;q=0.5, gzip', 'gzip'],
    ['BR', 'br'],
    ['br;q=0, gzip;q=0', null],
    ['*', null],
  ];
  for (const [acceptEncoding, expected] of cases) {
    const headers: Record<string, string> =
      acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding };
    const response = await app.request('/large', { headers });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-encoding'), expected, String(acceptEncoding));
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(response.headers.get('vary'), 'accept-encoding');
    assert.equal(response.headers.get('x-data-source'), 'redis');
    const bytes = Buffer.from(await response.arrayBuffer());
    const decoded =
      expected === 'br' ? brotliDecompressSync(bytes) : expected === 'gzip' ? gunzipSync(bytes) : bytes;
    assert.deepEqual(decoded, large.bytes, String(acceptEncoding));
  }
  assert.equal(large.encoded('br'), large.encoded('br'), 'kept, not compressed again');
});

it('sends a body too small to gain as it is, and says nothing varies', async () => {
  const response = await app.request('/small', { headers: { 'accept-encoding': 'br, gzip' } });
  assert.equal(response.headers.get('content-encoding'), null);
  assert.equal(response.headers.get('vary'), null);
  assert.equal(await response.text(), small.bytes.toString());
});

it('answers 304 with no body, and the headers a 200 would carry, to an If-None-Match naming the ETag', async () => {
  for (const ifNoneMatch of [large.etag, large.etag.slice(2), `"other", ${large.etag}`, ' * ']) {
    const response = await app.request('/large', { headers: { 'if-none-match': ifNoneMatch } });
    assert.equal(response.status, 304, ifNoneMatch);
    assert.equal(await response.text(), '');
    assert.equal(response.headers.get('etag'), large.etag);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(response.headers.get('vary'), 'accept-encoding');
    assert.equal(response.headers.get('x-data-source'), 'redis');
  }
  const other = await app.request('/large', { headers: { 'if-none-match': 'W/"other"' } });
  assert.equal(other.status, 200);
  assert.equal(matchesEtag(undefined, large.etag), false);
  assert.equal(matchesEtag('', large.etag), false);
});
