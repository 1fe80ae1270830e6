/**
 * Answers served again and again from the same bytes (a seat map, a page of events): serialized
 * once, hashed once into a weak ETag, compressed at most once per content coding, and then
 * answered to every request that asks: 304 with no body to an `If-None-Match` naming the ETag,
 * else Brotli or gzip as `Accept-Encoding` prefers, with a `Cache-Control` a CDN can use.
 *
 * Why not Hono's middleware: `hono/compress` compresses on every request, which is the work this
 * saves; `hono/etag` hashes every answer's body (or takes the ETag the handler set) only after the
 * handler built the full 200 answer, then builds the 304 from it: for the bytes of a snapshot,
 * whose ETag is known before any answer is built, that is work thrown away on the hottest answer.
 * Negotiation itself is Hono's (`hono/accepts`).
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Context } from 'hono';
import { accepts } from 'hono/accepts';

/** The content codings served besides identity, most preferred first. */
export const ENCODINGS = ['br', 'gzip'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/**
 * Brotli quality 5: a 4,000-seat map (270 KB) in about 3 ms to 14 KB; quality 11 saves 10 % more
 * for a hundred times the CPU, on every change of a hot event.
 */
const BROTLI_QUALITY = 5;

/**
 * Smaller bodies are sent as they are: a few hundred bytes fit in one packet either way, and
 * every compressed copy is one more to keep (hono/compress draws the line at the same size).
 */
export const MIN_COMPRESSED_BYTES = 1_024;

/** One answer's bytes and content type, with its ETag and its compressed copies, made on first use. */
export class CachedBody {
  /** Weak (`W/"…"`): the same for every coding of these bytes, and for the same bytes made again. */
  readonly etag: string;
  private readonly compressed = new Map<Encoding, Buffer<ArrayBuffer>>();

  constructor(
    readonly bytes: Buffer<ArrayBuffer>,
    readonly contentType = 'application/json',
  ) {
    this.etag = `W/"${createHash('sha1').update(bytes).digest('base64url')}"`;
  }

  /** `value` serialized as JSON. */
  static json(value: unknown): CachedBody {
    return new CachedBody(Buffer.from(JSON.stringify(value)));
  }

  /** Whether the body is large enough to be served compressed. */
  get compressible(): boolean {
    return this.bytes.length >= MIN_COMPRESSED_BYTES;
  }

  /** The bytes in `encoding`, compressed on first use and kept. */
  encoded(encoding: Encoding): Buffer<ArrayBuffer> {
    let body = this.compressed.get(encoding);
    if (!body) {
      body =
        encoding === 'br'
          ? brotliCompressSync(this.bytes, {
              params: {
                [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
                [constants.BROTLI_PARAM_SIZE_HINT]: this.bytes.length,
              },
            })
          : gzipSync(this.bytes);
      this.compressed.set(encoding, body);
    }
    return body;
  }
}

/**
 * `body` as the request asks for it: 304 with no body when its `If-None-Match` names the ETag,
 * else 200 in the coding the client prefers (Brotli before gzip when it accepts both alike;
 * identity for a body too small to compress). `Cache-Control`, `ETag` and the extra `headers` go
 * on both, and `Vary: Accept-Encoding` whenever the coding depends on the request.
 */
export function cachedResponse(
  c: Context,
  body: CachedBody,
  options: { cacheControl: string; headers?: Record<string, string> },
): Response {
  const headers: Record<string, string> = {
    ...options.headers,
    etag: body.etag,
    'cache-control': options.cacheControl,
  };
  if (body.compressible) headers.vary = 'accept-encoding';
  if (matchesEtag(c.req.header('if-none-match'), body.etag)) return c.body(null, 304, headers);
  headers['content-type'] = body.contentType;
  const encoding = body.compressible ? preferredEncoding(c) : 'identity';
  if (encoding === 'identity') return c.body(body.bytes, 200, headers);
  headers['content-encoding'] = encoding;
  return c.body(body.encoded(encoding), 200, headers);
}

/** The coding with the highest q among ENCODINGS (the earlier one on a tie), else identity. */
function preferredEncoding(c: Context): Encoding | 'identity' {
  return accepts(c, {
    header: 'Accept-Encoding',
    supports: [...ENCODINGS],
    default: 'identity',
    match: (accepted, { supports, default: identity }) => {
      let best = { encoding: identity, q: 0 };
      for (const encoding of supports) {
        const q = accepted.find((a) => a.type.toLowerCase() === encoding)?.q ?? 0;
        if (q > best.q) best = { encoding, q };
      }
      return best.encoding;
    },
  }) as Encoding | 'identity';
}

/** `If-None-Match` by weak comparison (RFC 9110 13.1.2): `*`, or any listed tag with the same opaque value. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => opaque(tag) === opaque(etag));
}
