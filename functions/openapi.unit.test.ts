import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openApiDocument } from '../lib/platform/openapi.ts';
import { FUNCTIONS } from './registry.ts';

const PROBLEM = { $ref: '#/components/schemas/Problem' };

type Content = Record<string, { schema?: unknown }>;
type Responses = Record<string, { content?: Content }>;

describe('the OpenAPI document of every HTTP function', () => {
  for (const definition of FUNCTIONS.filter((candidate) => candidate.trigger.kind === 'http')) {
    it(`${definition.name}: each operation declares its 2xx body, each error a problem`, async () => {
      const document = await openApiDocument(definition.routes, definition.name);
      assert.ok(document.components.schemas?.Problem, 'the problem schema is in the document');
      const operations = Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item ?? {}).map(([method, operation]) => ({
          name: `${method.toUpperCase()} ${path}`,
          responses: (operation as { responses: Responses }).responses,
        })),
      );
      assert.ok(operations.length > 0, 'it documents its routes');
      for (const { name, responses } of operations) {
        const answers = Object.entries(responses).filter(([status]) => /^2\d\d$/.test(status));
        assert.ok(answers.length > 0, `${name} declares a 2xx answer`);
        for (const [status, answer] of answers) {
          const media = Object.values(answer.content ?? {});
          assert.ok(media.length > 0, `${name} ${status} declares its media type`);
          for (const { schema } of media) assert.ok(schema, `${name} ${status} declares its schema`);
        }
        const errors = Object.entries(responses).filter(([status]) => !/^2\d\d$/.test(status));
        assert.ok(
          errors.some(([status]) => status === 'default'),
          `${name}: any other error is declared`,
        );
        for (const [status, error] of errors) {
          const media = Object.entries(error.content ?? {});
          assert.ok(media.length > 0, `${name} ${status} declares its body`);
          // Every error is a problem document, except a page's own "not found" page.
          for (const [mediaType, { schema }] of media) {
            if (mediaType === 'text/html') continue;
            assert.equal(mediaType, 'application/problem+json', `${name} ${status}`);
            assert.deepEqual(schema, PROBLEM, `${name} ${status} refers to the problem schema`);
          }
        }
      }
    });
  }
});
