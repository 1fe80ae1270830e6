/** The run's results: bench/results/<run>.json and .md, the table on stderr, and bench/README.md's table. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMarkdown, replaceLatest } from '../markdown.ts';
import type { BenchOptions } from '../options.ts';
import { say } from '../progress.ts';
import type { BenchReport } from '../report.ts';

/** The README whose "Latest results" table a full-size run replaces. */
const BENCH_README = new URL('../README.md', import.meta.url).pathname;

export function publishResults(report: BenchReport, options: Pick<BenchOptions, 'outDir' | 'readme'>): void {
  mkdirSync(options.outDir, { recursive: true });
  const markdown = renderMarkdown(report);
  const file = join(options.outDir, report.runId);
  writeFileSync(`${file}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${file}.md`, `# Benchmark ${report.runId}\n\n${markdown}\n`);
  say(`\n${markdown}\n`);
  say(`results: ${file}.json and .md`);
  if (options.readme) updateReadme(markdown);
}

function updateReadme(markdown: string): void {
  const updated = existsSync(BENCH_README)
    ? replaceLatest(readFileSync(BENCH_README, 'utf8'), markdown)
    : undefined;
  if (updated === undefined) {
    say('bench/README.md has no bench markers; not updated');
    return;
  }
  writeFileSync(BENCH_README, updated);
  say('bench/README.md: latest benchmark table updated');
}
