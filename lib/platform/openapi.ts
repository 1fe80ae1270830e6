import { Scalar } from '@scalar/hono-api-reference';
import { Hono, type MiddlewareHandler } from 'hono';
import { generateSpecs } from 'hono-openapi';
import type { AppEnv } from './env.ts';

/** Paths every app answers for the platform, not part of any function's API. */
export const PLATFORM_PATHS = new Set(['/healthz', '/readyz', '/openapi.json', '/docs']);

type ResponseObject = Exclude<
  NonNullable<Parameters<typeof generateSpecs>[1]>['defaultValidationErrorResponse'],
  boolean | undefined
>;

const PROBLEM: ResponseObject = {
  description: 'A problem document (RFC 9457); validation problems list the offending fields',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        required: ['type', 'title', 'status', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          detail: { type: 'string' },
          instance: { type: 'string' },
          errors: {
            type: 'array',
            items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
    },
  },
};

/**
 * The OpenAPI 3.1 document of some apps' routes, generated from the same valibot schemas that
 * validate their requests: nothing about a route is written twice.
 */
export function openApiDocument(apps: readonly Hono<AppEnv>[], title: string): Promise<unknown> {
  const merged = new Hono<AppEnv>();
  for (const app of apps) merged.route('/', app);
  return generateSpecs(merged, {
    documentation: {
      info: {
        title,
        version: '1',
        description:
          'First-come-first-served seat booking. Writes and personal reads need `Authorization: Bearer <JWT>` ' +
          '(`npm run token -- <userId> [--admin]` prints one for development).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    includeEmptyPaths: true,
    exclude: [...PLATFORM_PATHS],
    defaultValidationErrorResponse: PROBLEM,
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
