import { Scalar } from '@scalar/hono-api-reference';
import { Hono, type MiddlewareHandler } from 'hono';
import { ALLOWED_METHODS, generateSpecs, resolver } from 'hono-openapi';
import * as v from 'valibot';
import type { AppEnv } from './env.ts';
import { Problem } from './errors.ts';

/** Paths every app answers for the platform, not part of any function's API. */
export const PLATFORM_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']);

/** Where the problem schema sits in the document: every error answer refers to it. */
const PROBLEM_SCHEMA = { $ref: '#/components/schemas/Problem' };

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: PROBLEM_SCHEMA } },
});

/** A route's 2xx answer with a JSON body of the schema. */
export function jsonResponse(description: string, schema: v.GenericSchema) {
  return { description, content: { 'application/json': { schema: resolver(schema) } } };
}

/** A route's 2xx answer that is text of another kind: an HTML page, an event stream. */
export function textResponse(description: string, mediaType: string) {
  return { description, content: { [mediaType]: { schema: resolver(v.string()) } } };
}

/** The errors a route answers itself, each a problem document: `problemResponses({ 404: 'No event' })`. */
export function problemResponses(described: Record<number, string>) {
  return Object.fromEntries(
    Object.entries(described).map(([status, description]) => [status, problemResponse(description)]),
  );
}

/**
 * The OpenAPI 3.1 document of some apps' routes, generated from the same valibot schemas that
 * validate their requests: nothing about a route is written twice.
 */
export async function openApiDocument(apps: readonly Hono<AppEnv>[], title: string) {
  const merged = new Hono<AppEnv>();
  for (const app of apps) merged.route('/', app);
  const problem = await resolver(Problem).toOpenAPISchema();
  // Any error a route does not list (401 from auth, 413, 429, 500, ...) is a problem document too.
  const anyOtherError = { responses: { default: problemResponse('Any other error') } };
  return generateSpecs(merged, {
    documentation: {
      info: {
        title,
        version: '1',
        description:
          'First-come-first-served seat booking. Writes and personal reads need `Authorization: Bearer <JWT>` ' +
          '(`npm run token -- <userId> [--admin]` prints one for development).',
      },
      components: {
        schemas: problem.components?.schemas,
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    includeEmptyPaths: true,
    exclude: [...PLATFORM_PATHS],
    defaultOptions: Object.fromEntries(ALLOWED_METHODS.map((method) => [method, anyOtherError])),
    defaultValidationErrorResponse: problemResponse(
      'The request is not valid; the problem lists every offending field',
    ),
  });
}

/** GET /openapi.json and GET /docs (interactive, Scalar) for the given apps. */
export function serveApiDocs(
  app: Hono<AppEnv>,
  documented: () => readonly Hono<AppEnv>[],
  title: string,
): void {
  let document: Promise<unknown> | undefined;
  const spec: MiddlewareHandler<AppEnv> = async (c) => {
    document ??= openApiDocument(documented(), title);
    return c.json(await document);
  };
  app.get('/openapi.json', spec);
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: title }));
}
