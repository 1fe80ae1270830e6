/** The report as markdown, for bench/results/<run>.md and the table of bench/README.md (no I/O). */
import type { Scenario } from './options.ts';
import { OTHERS } from './procstat.ts';
import { queueMarkdown } from './queue-report.ts';
import type { BenchReport, ReadReport, RunReport } from './report.ts';
import { stormLossPercent } from './verdicts.ts';

const fmt = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || !Number.isFinite(value)
    ? '–'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number | undefined) => (value === undefined ? '–' : fmt(value, value < 100 ? 1 : 0));
const mib = (bytes: number) => `${fmt(bytes / 1_048_576)} MiB`;
const statusList = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .map(([status, n]) => `${status}: ${fmt(n)}`)
    .join(', ');
const cores = (run: { processes: RunReport['processes'] }) => {
  const ours = run.processes.filter((group) => group.name !== OTHERS);
  const others = run.processes.find((group) => group.name === OTHERS);
  return `${fmt(
    ours.reduce((sum, group) => sum + group.cores, 0),
    2,
  )} (${others ? fmt(others.cores, 2) : '–'})`;
};
const p50p99 = (p: { p50: number; p99: number } | undefined) => (p ? `${ms(p.p50)} / ${ms(p.p99)}` : '–');

/** One column per run: answers, confirmations, CPU, rounds and invariants. */
function runTable(columns: readonly RunReport[]): string[] {
  const row = (label: string, cell: (run: RunReport) => string) =>
    `| ${label} | ${columns.map(cell).join(' | ')} |`;
  return [
    `| | ${columns.map((run) => run.name).join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|`,
    row('answer', (run) => run.answerMeans),
    row('requests/s', (run) => fmt(run.requestsPerS)),
    row('answer p50 / p95 / p99 (ms)', (run) =>
      run.latencyMs ? `${ms(run.latencyMs.p50)} / ${ms(run.latencyMs.p95)} / ${ms(run.latencyMs.p99)}` : '–',
    ),
    row('answers', (run) => statusList(run.statuses)),
    row('confirmed bookings (requests)', (run) =>
      run.confirmed ? `${fmt(run.confirmed.bookings)} (${fmt(run.confirmed.requests)})` : '–',
    ),
    row('**confirmed bookings/s**', (run) =>
      run.confirmed ? `**${fmt(run.confirmed.bookingsPerS)}**` : '–',
    ),
    row('first request → last confirmation (s)', (run) =>
      run.confirmed ? fmt(run.confirmed.spanS, 2) : '–',
    ),
    row('requested_at → decided_at p50 / p99 (ms)', (run) => p50p99(run.confirmationMs?.requestedToDecided)),
    row('sent → confirmation seen p50 / p99 (ms)', (run) => p50p99(run.confirmationMs?.sentToVisible)),
    row('CPU: cores busy, its processes (others on the machine)', cores),
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
}

/** Each process's cores and peak memory, one column per run. */
function processTable(columns: readonly { name: string; processes: RunReport['processes'] }[]): string[] {
  const lines = [
    `| process | ${columns.map((run) => run.name).join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|`,
  ];
  const names = [...new Set(columns.flatMap((run) => run.processes.map((group) => group.name)))];
  for (const name of names) {
    const cells = columns.map((run) => {
      const group = run.processes.find((candidate) => candidate.name === name);
      if (!group) return '';
      return group.name === OTHERS
        ? `${fmt(group.cores, 2)} cores`
        : `${fmt(group.cores, 2)} cores, ${mib(group.peakRssBytes)}`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function readRows(design: string, reads: readonly ReadReport[]): string[] {
  return reads.map(
    (read) =>
      `| ${read.label} | ${design} | ${fmt(read.readsPerS)} | ${p50p99(read.latencyMs)} | ${fmt(read.bytesPerAnswer)} | ${statusList(read.statuses)}${Object.keys(read.errors).length > 0 ? `; errors: ${statusList(read.errors)}` : ''} |`,
  );
}

const READ_HEADER = [
  '| seat map | design | reads/s | p50 / p99 (ms) | bytes per answer | answers |',
  '|---|---|---:|---:|---:|---|',
];

function openLoopTable(runs: readonly RunReport[]): string[] {
  const sorted = [...runs].sort(
    (a, b) => (a.offered?.factor ?? 0) - (b.offered?.factor ?? 0) || a.name.localeCompare(b.name),
  );
  return [
    '| offered | design | achieved requests/s | answer p50 / p95 / p99 (ms) | answers | CPU: cores busy (others) | every round: p99 (ms) |',
    '|---|---|---:|---:|---|---:|---|',
    ...sorted.map(
      (run) =>
        `| ${fmt(run.offered?.rate)}/s (${run.offered?.factor}×) | ${run.name} | ${fmt(run.requestsPerS)} | ` +
        `${run.latencyMs ? `${ms(run.latencyMs.p50)} / ${ms(run.latencyMs.p95)} / ${ms(run.latencyMs.p99)}` : '–'} | ` +
        `${statusList(run.statuses)} | ${cores(run)} | ${(run.rounds ?? []).map((round) => ms(round.p99)).join(', ')} |`,
    ),
  ];
}

function scaleOutTable(report: BenchReport): string[] {
  const scale = report.scaleOut;
  if (!scale || scale.designs.length === 0) return [];
  const designs = scale.designs;
  const resources = [...new Set(designs.flatMap((design) => design.ceilings.map((c) => c.resource)))];
  const lines = [
    `**Scale-out arithmetic** (from the flash sale above): each shared resource's CPU per confirmed booking, ` +
      'and the confirmed bookings/s that would saturate it with as many `book` instances (or obvious-design ' +
      'endpoints) in front as it takes: its cores ÷ its CPU per booking.',
    '',
    `| resource | ${designs.map((design) => `${design.name}: CPU per booking → ceiling`).join(' | ')} |`,
    `|---|${designs.map(() => '---:').join('|')}|`,
    ...resources.map((resource) => {
      const cells = designs.map((design) => {
        const c = design.ceilings.find((candidate) => candidate.resource === resource);
        return c ? `${fmt(c.cpuMsPerBooking, 3)} ms → **${fmt(c.bookingsPerS)}/s**` : '';
      });
      return `| ${resource} | ${cells.join(' | ')} |`;
    }),
    `| saturates first (Postgres of ${scale.primaryCores.at(-1)} cores) | ${designs.map((design) => design.firstToSaturate ?? '–').join(' | ')} |`,
  ];
  const redis = designs.find((design) => design.redisCpuUsPerRequest !== undefined);
  if (redis)
    lines.push(
      '',
      `Redis CPU per request (${redis.name}, refusals too): ${fmt(redis.redisCpuUsPerRequest, 1)} µs.`,
    );
  return lines;
}

const TITLES: Record<Scenario, string> = {
  flash: 'Flash sale',
  'hot-seat': 'Hot-seat on-sale',
  'open-loop': 'Open loop',
  'read-storm': 'Read storm',
};

export function renderMarkdown(report: BenchReport): string {
  const o = report.options;
  const scenarioRuns = (scenario: Scenario) => report.runs.filter((run) => run.scenario === scenario);
  const lines = [
    `**Run ${report.runId}** on ${report.machine.cpu} (${report.machine.cores} cores, ${report.machine.memory}), ` +
      `Node ${report.machine.node}, PostgreSQL ${report.machine.postgres}, Kafka ${report.machine.kafka}; ` +
      `code ${report.machine.commit}${o.quick ? ' (--quick)' : ''}; ` +
      (report.queue
        ? 'the waiting room alone (--queue).'
        : `${o.rounds === 1 ? 'one round' : `median of ${o.rounds} rounds`}, ${o.connections} booking connections.`),
  ];
  if (report.queue) {
    lines.push(
      '',
      ...queueMarkdown(report.queue),
      '',
      ...processTable([{ name: 'waiting room', processes: report.queue.processes }]),
    );
  }

  const flash = scenarioRuns('flash');
  if (flash.length > 0) {
    const columns = [...flash, ...(report.floors.noop ? [report.floors.noop] : [])];
    lines.push(
      '',
      `### ${TITLES.flash}`,
      '',
      `${fmt(o.seats as number)} seats, ${fmt(o.requests as number)} requests ` +
        `${o.rate ? `offered at ${fmt(o.rate as number)}/s` : 'as fast as taken'}, ${o.minSeats}–${o.maxSeats} seats each, skew ${o.skew}.`,
      '',
      ...runTable(columns),
    );
    const pg = report.floors.postgres;
    if (pg) {
      lines.push(
        '',
        `Postgres floor (${pg.tool}, one booking per commit, ${pg.clients} clients, no contention): ` +
          `**${fmt(pg.bookingsPerS)} bookings/s** (${fmt(pg.bookings)} bookings).`,
      );
    }
    lines.push('', ...processTable(columns), '', '| ratio | value |', '|---|---:|');
    for (const [name, value] of Object.entries(report.ratios)) lines.push(`| ${name} | ${fmt(value, 2)} |`);
  }

  const hot = scenarioRuns('hot-seat');
  if (hot.length > 0) {
    lines.push(
      '',
      `### ${TITLES['hot-seat']}`,
      '',
      `${fmt(o.hotSeats as number)} seats, ${fmt(o.hotRequests as number)} requests (demand ` +
        `${fmt((o.hotRequests as number) / (o.hotSeats as number), 0)}× the supply), as fast as taken.`,
      '',
      ...runTable(hot),
    );
  }

  const open = scenarioRuns('open-loop');
  if (open.length > 0) {
    const base = report.openLoopBase;
    lines.push(
      '',
      `### ${TITLES['open-loop']}`,
      '',
      `Offered rates are multiples of the obvious design's maximum, ${fmt(base?.requestsPerS)} requests/s ` +
        `(${base?.measuredIn ?? 'unknown'}), for ${o.openLoopSeconds} s each, over ${o.connections} connections; ` +
        'latency counts from when a request was due.',
      '',
      ...openLoopTable(open),
    );
  }

  const storm = scenarioRuns('read-storm');
  if (storm.length > 0 || report.reads.length > 0) {
    lines.push('', `### ${TITLES['read-storm']}`, '');
    if (report.reads.length > 0) {
      lines.push(
        `Each seat map read alone, ${o.readSeconds} s, ${o.readConnections} connections:`,
        '',
        ...READ_HEADER,
        ...report.reads.flatMap((run) => readRows(run.name, run.reads)),
        '',
        ...processTable(report.reads),
      );
    }
    if (storm.length > 0) {
      lines.push(
        '',
        `Through the flash sale, the maps read at full speed from a second load generator (${o.readConnections} connections, shared evenly):`,
        '',
        '| design | confirmed bookings/s without the storm | with it | lost | every round with it |',
        '|---|---:|---:|---:|---|',
        ...storm.map((run) => {
          const without = flash.find((candidate) => candidate.name === run.name);
          return (
            `| ${run.name} | ${fmt(without?.confirmed?.bookingsPerS)} | ${fmt(run.confirmed?.bookingsPerS)} | ` +
            `${fmt(stormLossPercent(run, without), 1)} % | ${(run.rounds ?? []).map((round) => fmt(round.bookingsPerS)).join(', ')} |`
          );
        }),
        '',
        ...READ_HEADER,
        ...storm.flatMap((run) => readRows(run.name, run.reads ?? [])),
        '',
        ...runTable(storm),
        '',
        ...processTable(storm),
      );
    }
  }

  const scale = scaleOutTable(report);
  if (scale.length > 0) lines.push('', '### Scale-out', '', ...scale);

  const footprint = Object.entries(report.footprint ?? {});
  if (footprint.length > 0) {
    lines.push(
      '',
      '### Footprint',
      '',
      "Each function alone from the bundle, with the image's Node flags (median of 3 starts); idle is 20 s after ready; peak is under the scenarios above.",
      '',
      '| function | spawn → /readyz 200, ms | CPU until ready, ms | idle RSS, MiB (private) | peak RSS, MiB |',
      '|---|---:|---:|---:|---:|',
      ...footprint.map(
        ([name, f]) =>
          `| ${name} | ${fmt(f.readyMs)} | ${fmt(f.readyCpuMs)} | ${fmt(f.idleRssMiB, 1)} (${fmt(f.idlePrivateMiB, 1)}) | ${fmt(f.peakRssMiB, 1)} |`,
      ),
    );
  }

  if (report.targets.length > 0)
    lines.push('', '| target (issue 18) | value | target | met |', '|---|---:|---|---|');
  for (const target of report.targets) {
    lines.push(
      `| ${target.name} | ${fmt(target.value, Math.abs(target.value ?? 0) < 100 ? 2 : 0)} | ${target.target} | ${target.met === null ? 'not measured' : target.met ? 'yes' : '**no**'} |`,
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
