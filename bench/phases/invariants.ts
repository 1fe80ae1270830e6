/**
 * The invariant checks after each measured run: 1–5 of docs/invariants.md for the system's event
 * (test/invariants.ts), 1–3 for the obvious design's. Request i of the job is answer i.
 */
import { type Answer, checkInvariants } from '../../test/invariants.ts';
import { bookingsOf, checkBaselineInvariants, refusedButBooked } from '../database.ts';
import type { LoadJob, LoadResult } from '../load.ts';
import { say } from '../progress.ts';
import type { RunReport } from '../report.ts';
import type { Context } from './stack.ts';

type Requests = Pick<LoadJob, 'users' | 'seats'>;

/** What the system told each client; a 202 that booking-status later reported CONFIRMED counts as a 201 (invariant 2). */
export function systemAnswers(job: Requests, result: LoadResult): Answer[] {
  return result.answers.map((answer, i) => {
    const base = { userId: job.users[i] as number, seatIds: job.seats[i] ?? [] };
    if (answer.status === 202 && answer.final?.status === 'CONFIRMED')
      return { ...base, status: 201, requestId: answer.requestId, bookingIds: answer.final.bookingIds };
    return { ...base, status: answer.status, requestId: answer.requestId, bookingIds: answer.bookingIds };
  });
}

/** Invariant 4 as a client sees it: no 202 may still be PENDING once the system is quiet. */
export function stillPending(result: LoadResult): string[] {
  const pending = result.answers.filter(
    (answer) => answer.status === 202 && answer.final?.status === 'PENDING',
  );
  return pending.length === 0
    ? []
    : [`invariant 4: still PENDING at booking-status: ${pending.slice(0, 5).map((a) => a.requestId)}`];
}

export async function checkSystemRun(
  context: Context,
  name: string,
  eventId: number,
  job: Requests,
  result: LoadResult,
): Promise<NonNullable<RunReport['invariants']>> {
  const { services } = context;
  const answers = systemAnswers(job, result);
  say(`${name}: checking the five invariants`);
  const checked = await checkInvariants(services, eventId, answers);
  const violations = [
    ...checked.violations,
    ...refusedButBooked(await bookingsOf(services.db.$client, eventId), answers),
    ...stillPending(result),
  ];
  return verdict(name, '1–5', violations);
}

/** Invariants 1–5 for an event whose answers are gathered otherwise (the waiting room's buyers). */
export async function checkAnswers(
  context: Context,
  name: string,
  eventId: number,
  answers: readonly Answer[],
): Promise<NonNullable<RunReport['invariants']>> {
  say(`${name}: checking the five invariants`);
  return verdict(name, '1–5', (await checkInvariants(context.services, eventId, answers)).violations);
}

export async function checkBaselineRun(
  context: Context,
  name: string,
  eventId: number,
  job: Requests,
  result: LoadResult,
): Promise<NonNullable<RunReport['invariants']>> {
  const answers: Answer[] = result.answers.map((answer, i) => ({
    status: answer.status,
    userId: job.users[i] as number,
    seatIds: job.seats[i] ?? [],
    bookingIds: answer.bookingIds,
  }));
  say(`${name}: checking invariants 1–3`);
  return verdict(name, '1–3', await checkBaselineInvariants(context.services.db.$client, eventId, answers));
}

function verdict(name: string, checked: string, violations: string[]): NonNullable<RunReport['invariants']> {
  say(
    `${name}: ${violations.length === 0 ? `invariants ${checked} hold` : `INVARIANTS BROKEN:\n  ${violations.join('\n  ')}`}`,
  );
  return { checked, violations };
}
