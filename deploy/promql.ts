/**
 * The PromQL queries of the generated files (the Grafana dashboard's panels, the alert rules, the
 * KEDA Prometheus triggers) and the metric names they read, so a test can hold every query to the
 * metrics the functions really export: a renamed metric fails the test instead of a panel going
 * blank or an alert never firing.
 */
import { parse, parseAllDocuments } from 'yaml';

export interface Query {
  /** The generated file, by path from the repository root. */
  file: string;
  /** Where in it: the panel, alert or ScaledObject. */
  where: string;
  expr: string;
}

/**
 * Series Prometheus makes itself rather than scraping them: the health of each target, and the
 * state of each alert.
 */
export const PROMETHEUS_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS'];

/** Words of PromQL that look like names: keywords and modifiers, never metrics. */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names an expression reads. Label matchers (`{...}`), ranges and durations (`[...]`,
 * Grafana's `$__rate_interval` among them), strings and the label lists of `by (...)` and the
 * like are dropped first; of the names left, those followed by `(` are functions or aggregations.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*(?!\w)(?!\s*\()/g)) {
    if (!KEYWORDS.has(match[0].toLowerCase())) names.add(match[0]);
  }
  return [...names];
}

/** A histogram is read through its series: `_bucket`, `_sum` and `_count`. */
const HISTOGRAM_SERIES = /_(?:bucket|sum|count)$/;

/**
 * The queries that read a metric not in `exported` (nor one of Prometheus's own series). Pass the
 * names of every metric the functions serve, e.g. lib/platform/metrics.ts' registry's.
 */
export function unexportedMetrics(
  queries: readonly Query[],
  exported: readonly string[],
): (Query & { metric: string })[] {
  const known = new Set([...exported, ...PROMETHEUS_SERIES]);
  const isKnown = (name: string) => known.has(name) || known.has(name.replace(HISTOGRAM_SERIES, ''));
  return queries.flatMap((query) =>
    metricNamesIn(query.expr)
      .filter((name) => !isKnown(name))
      .map((metric) => ({ ...query, metric })),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML and JSON, walked by shape
type Json = Record<string, any>;

/**
 * Every PromQL query of the generated files: `expr` wherever it appears (Grafana targets, rule
 * files and PrometheusRules), the `query` of KEDA's Prometheus triggers, and the same inside a
 * ConfigMap's JSON (a dashboard shipped to a cluster's Grafana) and a Kustomize patch's text.
 */
export function queriesIn(files: Record<string, string>): Query[] {
  const queries: Query[] = [];
  const walk = (file: string, node: unknown, where: string) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(file, item, where);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const object = node as Json;
    const here = [where, object.title, object.alert, object.record, object.metadata?.name]
      .filter(Boolean)
      .join(' / ');
    if (typeof object.expr === 'string') queries.push({ file, where: here, expr: object.expr });
    if (object.type === 'prometheus' && typeof object.metadata?.query === 'string') {
      queries.push({ file, where: here, expr: object.metadata.query });
    }
    for (const [key, value] of Object.entries(object)) {
      // A dashboard inside a ConfigMap, a Kustomize patch: text holding more to read.
      if (typeof value === 'string' && (key.endsWith('.json') || key === 'patch'))
        walk(file, parse(value), here);
      else walk(file, value, here);
    }
  };
  for (const [file, content] of Object.entries(files)) {
    if (file.endsWith('.json')) walk(file, JSON.parse(content), '');
    else if (/\.ya?ml$/.test(file)) {
      for (const document of parseAllDocuments(content)) walk(file, document.toJS(), '');
    }
  }
  return queries;
}
