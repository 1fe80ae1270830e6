/**
 * The environment variables every deployment passes, derived from lib/platform/config.ts' ConfigSchema so
 * a variable added there reaches the compose file, .env.example and the Kubernetes config.
 */
import * as v from 'valibot';
import { ConfigSchema } from '../lib/platform/config.ts';

export type Variable = keyof typeof ConfigSchema.entries;

export const VARIABLES = Object.keys(ConfigSchema.entries) as Variable[];

/** The runner's own parameters: every container sets them itself, so they are never shared config. */
export const PER_CONTAINER: readonly Variable[] = ['FUNCTION', 'HOST', 'PORT'];

/** Every function container listens here (each has its own network namespace, so one port fits all). */
export const CONTAINER_PORT = 8080;

/** URLs carry credentials; names like these hold them. They go to a Secret, not a ConfigMap. */
export function isSecret(variable: string): boolean {
  return /(_URL|SECRET|PASSWORD|TOKEN|_KEY)$/.test(variable);
}

/** The variables shared by all functions, in the order of ConfigSchema. */
export const SHARED_VARIABLES = VARIABLES.filter((variable) => !PER_CONTAINER.includes(variable));

/** ConfigSchema's defaults as the strings the environment would hold ('' when there is none). */
export function schemaDefaults(): Record<Variable, string> {
  const defaults = v.getDefaults(ConfigSchema) as Partial<Record<Variable, unknown>>;
  return Object.fromEntries(
    VARIABLES.map((variable) => [
      variable,
      defaults[variable] === undefined ? '' : String(defaults[variable]),
    ]),
  ) as Record<Variable, string>;
}

/**
 * How a deployment checks bearer tokens, which it must choose itself: a secret of its own, or an
 * identity provider's key set. JWT_SECRET's ConfigSchema default is public (in this repository)
 * and AUTH_JWKS_URL's empty, so the generated files carry no value for either, NODE_ENV is
 * production, and every function (and every set-up step, which reads the same settings) refuses
 * to start until one is set, with one line from lib/platform/config.ts. Neither alone can be
 * required by a compose file's `${NAME:?}`, so the refusal is the functions'.
 */
export const REQUIRED_ONE_OF: Partial<Record<Variable, string>> = {
  JWT_SECRET: '32 or more random characters, e.g. the output of `openssl rand -base64 48`',
  AUTH_JWKS_URL:
    "your identity provider's JSON Web Key Set (https), with AUTH_ISSUER and AUTH_AUDIENCE (README, Identity providers)",
};

export const isRequiredOneOf = (variable: string): boolean => variable in REQUIRED_ONE_OF;

/**
 * Values a deployment changes from the local-stack defaults: service names instead of 127.0.0.1,
 * production mode, no value for the REQUIRED_ONE_OF settings, and the client address taken from
 * X-Forwarded-For: every request comes through a proxy (compose's gateway, the cluster's
 * ingress-nginx) that replaces that header with the address it sees, so without it every client
 * would share the proxy's address and one per-address rate limit. Everything else keeps
 * ConfigSchema's default.
 */
export function deploymentValues(
  hosts: { postgres: string; redis: string; kafka: string },
  overrides: Partial<Record<Variable, string>> = {},
): Record<Variable, string> {
  return {
    ...schemaDefaults(),
    NODE_ENV: 'production',
    DATABASE_URL: `postgres://seatrush:seatrush@${hosts.postgres}:5432/seatrush`,
    REDIS_URL: `redis://${hosts.redis}:6379/0`,
    KAFKA_BROKERS: `${hosts.kafka}:9092`,
    TRUST_PROXY: 'true',
    ...Object.fromEntries(Object.keys(REQUIRED_ONE_OF).map((variable) => [variable, ''])),
    ...overrides,
  };
}

/**
 * What each variable means: its description in ConfigSchema (README's configuration table is
 * generated from the same text), without markdown's backticks, so .env.example never says
 * something else. A variable without a description gets an empty meaning.
 */
export function variableMeanings(): Map<Variable, string> {
  return new Map(
    VARIABLES.map((variable) => [
      variable,
      (v.getDescription(ConfigSchema.entries[variable]) ?? '').replaceAll('`', ''),
    ]),
  );
}
