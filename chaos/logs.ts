/**
 * What the functions logged at warn or worse during one scenario, from their log files: the
 * fault's footprint, and for the Redis Cluster scenario the proof that Redis was really used as a
 * cluster (a standalone client there answers MOVED, and the features that fail open hide it).
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Warning {
  /** The log file's name: the function and its instance number. */
  source: string;
  message: string;
  count: number;
}

/** Where each function log ends now, so a later read sees only what came after. */
export function logMarks(logDir: string): Map<string, number> {
  return new Map(
    readdirSync(logDir)
      .filter((file) => file.endsWith('.log'))
      .map((file) => [file, statSync(join(logDir, file)).size]),
  );
}

function readFrom(path: string, offset: number): string {
  const size = statSync(path).size;
  if (size <= offset) return '';
  const buffer = Buffer.alloc(size - offset);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return buffer.toString();
}

/** Warn-or-worse lines logged since `marks`, grouped by instance and message, most frequent first. */
export function warningsSince(logDir: string, marks: ReadonlyMap<string, number>): Warning[] {
  const counts = new Map<string, Warning>();
  for (const file of readdirSync(logDir).filter((name) => name.endsWith('.log'))) {
    for (const line of readFrom(join(logDir, file), marks.get(file) ?? 0).split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { level?: number; msg?: string; err?: { message?: string } };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if ((entry.level ?? 0) < 40) continue;
      const source = file.replace(/\.log$/, '');
      // Numbers (slots, ports, offsets) vary from line to line; the message's shape is what repeats.
      const message =
        `${entry.msg ?? ''}${entry.err?.message ? `: ${entry.err.message.slice(0, 120)}` : ''}`.replace(
          /\d{2,}/g,
          'N',
        );
      const key = `${source} ${message}`;
      const known = counts.get(key);
      if (known) known.count++;
      else counts.set(key, { source, message, count: 1 });
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count);
}
