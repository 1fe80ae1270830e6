/** A scenario's result, the run's JSON, and the markdown table printed and written to results/. */
import { CHECKS, type Check, type CheckName } from './checks.ts';
import type { Warning } from './logs.ts';

export interface ScenarioResult {
  scenario: string;
  about: string;
  /** Requests offered (logical booking requests, each with its own key). */
  requests: number;
  /** The buyers' final answers, by status ('0' = no answer at all). */
  finals: Record<string, number>;
  /** Of the final 202s, what booking-status said at the end. */
  polled: Record<string, number>;
  cancels: { sent: number; finals: Record<string, number> };
  attempts: number;
  /** CONFIRMED bookings of the event before the probe. */
  confirmedSeats: number;
  /** Seats the probe tried to book (check 6). */
  probed: number;
  checks: Partial<Record<CheckName, Check>>;
  timeline: { atS: number; what: string }[];
  balancer: { proxied: number; skipped: number; badGateway: number };
  /** The functions' warn-or-worse log lines during the scenario, grouped, most frequent first. */
  warnings: Warning[];
  durationS: number;
  /** Set when the scenario itself could not run to the end. */
  error?: string;
}

export interface ChaosReport {
  runId: string;
  profile: 'quick' | 'full';
  machine: Record<string, string | number>;
  options: Record<string, unknown>;
  results: ScenarioResult[];
  violations: number;
}

const sum = (counts: Record<string, number>, keep: (status: number) => boolean) =>
  Object.entries(counts).reduce((total, [status, n]) => total + (keep(Number(status)) ? n : 0), 0);

export function failedChecks(result: ScenarioResult): CheckName[] {
  return (Object.keys(CHECKS) as CheckName[]).filter((name) => result.checks[name]?.ok === false);
}

export function renderTable(results: readonly ScenarioResult[]): string {
  const names = Object.keys(CHECKS) as CheckName[];
  const header = [
    'scenario',
    'requests',
    '201',
    '202',
    '409',
    '5xx',
    'confirmed seats',
    ...names.map((name) => CHECKS[name]),
  ];
  const rows = results.map((result) => [
    result.scenario,
    String(result.requests),
    String(result.finals['201'] ?? 0),
    String(result.finals['202'] ?? 0),
    String(result.finals['409'] ?? 0),
    String(sum(result.finals, (status) => status >= 500 || status === 0)),
    String(result.confirmedSeats),
    ...names.map((name) => {
      const check = result.checks[name];
      if (!check) return result.error ? 'error' : '–';
      return check.ok ? 'ok' : `FAIL ${check.count}`;
    }),
  ]);
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(report: ChaosReport): string {
  const lines = [
    `# Chaos run ${report.runId} (${report.profile})`,
    '',
    renderTable(report.results),
    '',
    `Checks: ${Object.values(CHECKS).join('; ')}. A count is the offenders the check found (seats, requests, rows or partitions).`,
    '',
    `Machine: ${Object.entries(report.machine)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ')}.`,
    '',
  ];
  for (const result of report.results) {
    const failed = failedChecks(result);
    lines.push(`## ${result.scenario}`, '', `${result.about}. ${result.durationS} s.`, '');
    lines.push(
      `Final answers: ${JSON.stringify(result.finals)}; 202s polled: ${JSON.stringify(result.polled)}; ` +
        `cancels: ${result.cancels.sent} sent, ${JSON.stringify(result.cancels.finals)}; ` +
        `${result.attempts} HTTP attempts; balancer: ${JSON.stringify(result.balancer)}; probe: ${result.probed} seats.`,
      '',
    );
    lines.push(`Timeline: ${result.timeline.map((event) => `${event.atS} s ${event.what}`).join('; ')}.`, '');
    if (result.error) lines.push(`**Error:** ${result.error}`, '');
    if (result.warnings.length > 0) {
      const top = result.warnings.slice(0, 8).map((w) => `${w.count}× ${w.source}: ${w.message}`);
      lines.push(`Function warnings (most frequent): ${top.join('; ')}.`, '');
    }
    for (const name of Object.keys(CHECKS) as CheckName[]) {
      const check = result.checks[name];
      if (check?.note) lines.push(`- ${CHECKS[name]}: ${check.ok ? 'ok' : 'FAIL'}, ${check.note}`);
    }
    for (const name of failed) {
      const check = result.checks[name] as Check;
      lines.push(
        `- **${CHECKS[name]}: ${check.count}**, e.g. \`${JSON.stringify(check.examples).slice(0, 1_500)}\``,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}
