/**
 * Summarises the V8 CPU profiles `npm run bench -- --cpu-prof DIR` writes: for each function
 * process, where its CPU went, by package (or project file) and by function (self time).
 *
 *   npx tsx bench/profile.ts DIR [--top 20]
 *
 * DIR holds one folder per function (as the bench writes them); in each, the biggest profile is
 * the main thread's (tsx's loader thread, where one ran, writes a small one beside it). Frames in
 * a bundle are traced back to their sources through the source map beside it (bench/processes.ts
 * builds the functions' bundle with one).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a project file, Node itself, or V8's own work. */
export function placeOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:')) return url;
  const project = /\/((?:lib|functions|bin|bench|test)\/.*)$/.exec(url)?.[1];
  return project ?? url;
}

export interface ProfileSummary {
  totalMs: number;
  byPlace: [string, number][];
  byFunction: [string, number][];
}

const sourceMaps = new Map<string, { map: SourceMap; dir: string } | undefined>();

/** Where a frame of a bundle came from (its source file and line), if a source map says. */
function originalFrame(frame: ProfileNode['callFrame']): { url: string; lineNumber: number } {
  if (!frame.url.startsWith('file://')) return frame;
  if (!sourceMaps.has(frame.url)) {
    const file = fileURLToPath(frame.url);
    const mapFile = `${file}.map`;
    sourceMaps.set(
      frame.url,
      existsSync(mapFile)
        ? {
            map: new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload),
            dir: dirname(file),
          }
        : undefined,
    );
  }
  const source = sourceMaps.get(frame.url);
  if (!source) return frame;
  const entry = source.map.findEntry(frame.lineNumber, frame.columnNumber);
  if (!('originalSource' in entry)) return frame;
  return { url: resolve(source.dir, entry.originalSource), lineNumber: entry.originalLine };
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const { functionName } = frame;
    const { url, lineNumber } = originalFrame(frame);
    if (functionName === '(idle)') continue;
    totalMs += ms;
    const place = placeOf(url, functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + ms);
    const name = `${functionName || '(anonymous)'} ${place}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  return { totalMs, byPlace: sorted(byPlace), byFunction: sorted(byFunction) };
}

/**
 * Every .cpuprofile under `dir`; in a folder of several (a process's threads), only the main
 * thread's: the biggest.
 */
function profiles(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true });
  const own = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.cpuprofile'))
    .map((entry) => join(dir, entry.name))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  const nested = entries
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => profiles(join(dir, entry.name)));
  return [...own.slice(0, 1), ...nested];
}

function main(): void {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir) throw new Error('usage: tsx bench/profile.ts DIR [--top N]');
  const top = rest[0] === '--top' ? Number(rest[1]) : 15;
  for (const file of profiles(dir)) {
    const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    const pct = (ms: number) => `${((ms / summary.totalMs) * 100).toFixed(1).padStart(5)}%`;
    console.log(
      `\n## ${file.slice(dir.length + 1)}: ${(summary.totalMs / 1000).toFixed(2)} s of CPU (not idle)`,
    );
    console.log('by package / file (self time):');
    for (const [place, ms] of summary.byPlace.slice(0, top)) console.log(`  ${pct(ms)}  ${place}`);
    console.log('by function (self time):');
    for (const [name, ms] of summary.byFunction.slice(0, top)) console.log(`  ${pct(ms)}  ${name}`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) main();
