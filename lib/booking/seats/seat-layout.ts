/**
 * An event's seat layout in few bytes (GET /events/:eventId/seat-layout): its seats in id order,
 * as runs of seats whose ids count up by one while their numbers count up by one under the same
 * prefix. A grid created in one go is one run a row: seats 1001..1050 numbered A1..A50 are
 * `[1001, "A", 1, 50]`, so 50,000 seats in rows of 50 are 1,000 runs. A seat number that does not
 * end in a number (`"VIP"`) is a run of its own, `[seatId, "VIP"]`. Lossless for any numbers: a
 * number is split only where prefix + the number's decimal digits give the same text back.
 */

/** `[first seat id, prefix, first number, count]`, or `[seat id, seat number]` for a number without digits at its end. */
export type LayoutRun =
  | [firstSeatId: number, prefix: string, firstNumber: number, count: number]
  | [seatId: number, seatNumber: string];

/**
 * The shortest prefix followed by a decimal number written as `String(n)` writes it (no leading
 * zero, at most 15 digits, so it stays exact): "A01" is "A0" + 1, "Row 12" is "Row " + 12.
 */
const NUMBERED = /^(.*?)(0|[1-9]\d{0,14})$/s;

/** The runs of seats given in id order with their numbers (parallel lists). */
export function layoutRuns(seatIds: readonly number[], seatNumbers: readonly string[]): LayoutRun[] {
  const runs: LayoutRun[] = [];
  let open: [number, string, number, number] | undefined;
  seatIds.forEach((seatId, i) => {
    const seatNumber = seatNumbers[i] ?? '';
    const numbered = NUMBERED.exec(seatNumber);
    if (!numbered) {
      open = undefined;
      runs.push([seatId, seatNumber]);
      return;
    }
    const prefix = numbered[1] ?? '';
    const number = Number(numbered[2]);
    if (open && open[1] === prefix && seatId === open[0] + open[3] && number === open[2] + open[3]) {
      open[3] += 1;
      return;
    }
    open = [seatId, prefix, number, 1];
    runs.push(open);
  });
  return runs;
}

/** The seats the runs describe, in id order: what a client does with a layout. */
export function seatsOfRuns(runs: readonly LayoutRun[]): { seatIds: number[]; seatNumbers: string[] } {
  const seatIds: number[] = [];
  const seatNumbers: string[] = [];
  for (const run of runs) {
    if (run.length === 2) {
      seatIds.push(run[0]);
      seatNumbers.push(run[1]);
      continue;
    }
    const [firstSeatId, prefix, firstNumber, count] = run;
    for (let i = 0; i < count; i++) {
      seatIds.push(firstSeatId + i);
      seatNumbers.push(`${prefix}${firstNumber + i}`);
    }
  }
  return { seatIds, seatNumbers };
}
