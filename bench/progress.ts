/** The bench's status lines on stderr: the results themselves go to bench/results/. */

let lastProgress = 0;

/** One status line, rewritten in place on a terminal, else printed every few seconds. */
export function progress(text: string, final = false): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
    return;
  }
  const at = Date.now();
  if (final || at - lastProgress >= 2_000) {
    lastProgress = at;
    process.stderr.write(`${text}\n`);
  }
}

/** A status line that stays. */
export const say = (text: string) => progress(text, true);
