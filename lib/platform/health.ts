import { Hono } from 'hono';
import { type Dependency, pingDependencies, unreachable } from '../services.ts';
import type { AppEnv } from './env.ts';
import { essentialNeeds, type FunctionDefinition } from './function.ts';
import { registry } from './metrics.ts';

/**
 * GET /healthz (the process answers), GET /readyz (what it needs answers) and GET /metrics (the
 * process's metrics, lib/platform/metrics.ts: a gateway's are every function's it serves), for one
 * function or for a gateway serving several: written once, for the Node runner and the workerd worker.
 * A dependency some function was built to do without is reported as degraded, not unready, so an
 * orchestrator does not pull the function out in the very outage it exists to serve.
 */
export function healthRoutes(
  definitions: readonly Pick<FunctionDefinition, 'name' | 'needs' | 'degradesWithout'>[],
  extra: Record<string, string> = {},
): Hono<AppEnv> {
  const names = definitions.map((definition) => definition.name);
  const needs = [...new Set(definitions.flatMap((definition) => definition.needs))];
  const essential = new Set<Dependency>(definitions.flatMap(essentialNeeds));
  const degradable = needs.filter((dependency) => !essential.has(dependency));
  const served = names.length === 1 ? { function: names[0] } : { functions: names };
  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok', ...served, ...extra }))
    .get('/metrics', async (c) =>
      c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }),
    )
    .get('/readyz', async (c) => {
      const services = c.get('services');
      try {
        await pingDependencies(services, essential);
        const degraded = await unreachable(services, degradable);
        return c.json({ status: degraded.length ? 'degraded' : 'ready', ...served, needs, degraded });
      } catch (error) {
        return c.json({ status: 'unavailable', ...served, detail: (error as Error).message }, 503);
      }
    });
}
