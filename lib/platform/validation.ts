import type { ValidationTargets } from 'hono';
import { validator } from 'hono-openapi';
import * as v from 'valibot';
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

/** How a validation target is named in an error path: `body.seat_ids[2]`, `param.eventId`. */
const TARGET_NAMES: Record<string, string> = { json: 'body', form: 'body' };

export function fieldErrors(target: string, issues: readonly StandardIssue[]): FieldError[] {
  return issues.map((issue) => ({
    path: (issue.path ?? []).reduce<string>((path, segment) => {
      const key = typeof segment === 'object' ? segment.key : segment;
      return typeof key === 'number' ? `${path}[${key}]` : `${path}.${String(key)}`;
    }, TARGET_NAMES[target] ?? target),
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

/** A database id in a JSON body: a positive 32-bit integer. */
export const Id = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(2_147_483_647));

/** A database id in a path or query string. */
export const IdParam = v.pipe(
  v.string(),
  v.regex(/^[1-9]\d{0,9}$/, 'must be a positive integer'),
  v.toNumber(),
  Id,
);
