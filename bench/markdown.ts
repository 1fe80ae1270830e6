/** The report as markdown, for bench/results/<run>.md and the table of bench/README.md (no I/O). */
import { OTHERS } from './procstat.ts';
import type { BenchReport, RunReport } from './report.ts';

const fmt = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || !Number.isFinite(value)
    ? '–'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number | undefined) => (value === undefined ? '–' : fmt(value, value < 100 ? 1 : 0));
const mib = (bytes: number) => `${fmt(bytes / 1_048_576)} MiB`;

export function renderMarkdown(report: BenchReport): string {
  const columns = [...report.runs, ...(report.floors.noop ? [report.floors.noop] : [])];
  const row = (label: string, cell: (run: RunReport) => string) =>
    `| ${label} | ${columns.map(cell).join(' | ')} |`;
  const statusList = (run: RunReport) =>
    Object.entries(run.statuses)
      .map(([status, n]) => `${status}: ${fmt(n)}`)
      .join(', ');
  const lines = [
    `**Run ${report.runId}** on ${report.machine.cpu} (${report.machine.cores} cores, ${report.machine.memory}), ` +
      `Node ${report.machine.node}, PostgreSQL ${report.machine.postgres}, Kafka ${report.machine.kafka}; ` +
      `${fmt(report.options.seats as number)} seats, ${fmt(report.options.requests as number)} requests over ` +
      `${report.options.connections} connections ${report.options.rate ? `offered at ${fmt(report.options.rate as number)}/s` : 'as fast as taken'}, ` +
      `${report.options.minSeats}–${report.options.maxSeats} seats each, skew ${report.options.skew}, code ${report.machine.commit}` +
      `${report.options.quick ? ' (--quick)' : ''}.`,
    '',
    `| | ${columns.map((run) => run.name).join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|`,
    row('answer', (run) => run.answerMeans),
    row('requests/s', (run) => fmt(run.requestsPerS)),
    row('answer p50 / p95 / p99 (ms)', (run) =>
      run.latencyMs ? `${ms(run.latencyMs.p50)} / ${ms(run.latencyMs.p95)} / ${ms(run.latencyMs.p99)}` : '–',
    ),
    row('answers', statusList),
    row('confirmed bookings (requests)', (run) =>
      run.confirmed ? `${fmt(run.confirmed.bookings)} (${fmt(run.confirmed.requests)})` : '–',
    ),
    row('**confirmed bookings/s**', (run) =>
      run.confirmed ? `**${fmt(run.confirmed.bookingsPerS)}**` : '–',
    ),
    row('first request → last confirmation (s)', (run) =>
      run.confirmed ? fmt(run.confirmed.spanS, 2) : '–',
    ),
    row('requested_at → decided_at p50 / p99 (ms)', (run) => {
      const p = run.confirmationMs?.requestedToDecided;
      return p ? `${ms(p.p50)} / ${ms(p.p99)}` : '–';
    }),
    row('sent → confirmation seen p50 / p99 (ms)', (run) => {
      const p = run.confirmationMs?.sentToVisible;
      return p ? `${ms(p.p50)} / ${ms(p.p99)}` : '–';
    }),
    row('CPU: cores busy, its processes (others on the machine)', (run) => {
      const ours = run.processes.filter((group) => group.name !== OTHERS);
      const others = run.processes.find((group) => group.name === OTHERS);
      return `${fmt(
        ours.reduce((sum, group) => sum + group.cores, 0),
        2,
      )} (${others ? fmt(others.cores, 2) : '–'})`;
    }),
    ...(columns.some((run) => run.rounds)
      ? [
          row('every round: confirmed bookings/s (others’ cores)', (run) =>
            (run.rounds ?? [])
              .map(
                (round) => `${fmt(round.bookingsPerS ?? round.requestsPerS)} (${fmt(round.othersCores, 2)})`,
              )
              .join(', '),
          ),
        ]
      : []),
    row('invariants', (run) =>
      run.invariants
        ? run.invariants.violations.length === 0
          ? `${run.invariants.checked} hold`
          : '**BROKEN**'
        : '–',
    ),
  ];
  const pg = report.floors.postgres;
  if (pg) {
    lines.push(
      '',
      `Postgres floor (${pg.tool}, one booking per commit, ${pg.clients} clients, no contention): ` +
        `**${fmt(pg.bookingsPerS)} bookings/s** (${fmt(pg.bookings)} bookings).`,
    );
  }
  lines.push('', `| process | ${columns.map((run) => run.name).join(' | ')} |`);
  lines.push(`|---|${columns.map(() => '---:').join('|')}|`);
  const names = [...new Set(columns.flatMap((run) => run.processes.map((group) => group.name)))];
  for (const name of names) {
    lines.push(
      row(name, (run) => {
        const group = run.processes.find((candidate) => candidate.name === name);
        if (!group) return '';
        return group.name === OTHERS
          ? `${fmt(group.cores, 2)} cores`
          : `${fmt(group.cores, 2)} cores, ${mib(group.peakRssBytes)}`;
      }),
    );
  }
  lines.push('', '| ratio | value |', '|---|---:|');
  for (const [name, value] of Object.entries(report.ratios)) lines.push(`| ${name} | ${fmt(value, 2)} |`);
  lines.push('', '| target (issue 6) | value | target | met |', '|---|---:|---|---|');
  for (const target of report.targets) {
    lines.push(
      `| ${target.name} | ${fmt(target.value, 2)} | ${target.target} | ${target.met === null ? '–' : target.met ? 'yes' : '**no**'} |`,
    );
  }
  if (report.notes.length > 0) lines.push('', ...report.notes.map((note) => `- ${note}`));
  return lines.join('\n');
}

const START = '<!-- bench:latest:start -->';
const END = '<!-- bench:latest:end -->';

/** Replaces the table between the bench markers of bench/README.md; undefined when they are missing. */
export function replaceLatest(readme: string, table: string): string | undefined {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}
