import type { ValidationTargets } from 'hono';
import { validator } from 'hono-openapi';
import type * as v from 'valibot';
import { ApiError } from './errors.ts';

export interface FieldError {
  /** Where the bad value sits, e.g. `body.seat_ids[2]` or `param.eventId`. */
  path: string;
  message: string;
}

interface StandardIssue {
  message: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[];
}

export function fieldErrors(target: string, issues: readonly StandardIssue[]): FieldError[] {
  return issues.map((issue) => ({
    path: (issue.path ?? []).reduce<string>((path, segment) => {
      const key = typeof segment === 'object' ? segment.key : segment;
      return typeof key === 'number' ? `${path}[${key}]` : `${path}.${String(key)}`;
    }, target),
    message: issue.message,
  }));
}

/**
 * Parses one part of the request with a valibot schema before the handler runs; a failure is a
 * 400 problem naming every offending field. The schema also feeds the OpenAPI document.
 */
export function validate<Target extends keyof ValidationTargets, Schema extends v.GenericSchema>(
  target: Target,
  schema: Schema,
) {
  return validator(target, schema, (result) => {
    if (!result.success) {
      const errors = fieldErrors(target, result.error);
      throw new ApiError('BAD_REQUEST', {
        detail: errors.map((error) => `${error.path}: ${error.message}`).join('; '),
        extensions: { errors },
      });
    }
  });
}
