/// <reference lib="dom" />
/**
 * The waiting line of an event with a queue (the seat-map page's #waiting-room). The signed-in
 * buyer joins it (POST /events/:eventId/queue), then follows their ticket's Server-Sent Events
 * stream: their position and estimated wait, the pre-queue's draw at on-sale, "sold out", and at
 * last their admission, whose token the page books with until the session ends. The stream needs
 * the Authorization header, which EventSource cannot send: it is read with fetch and
 * eventsource-parser, and opened again whenever it drops. The ticket's id is kept in sessionStorage,
 * so a reload resumes the same place (GET /events/:eventId/queue/:ticketId). A buyer has one place
 * per event: once their session is over (booked, or out of time), joining again gives it back as
 * it is, so the page offers no second turn.
 */
import { createParser } from 'eventsource-parser';
import type { QueueTicketBody as QueueTicket } from '../../../lib/booking/queue/tickets.ts';
import type { Identity } from './identity.ts';

/** The right to book, from admission until the session ends. */
export interface Admission {
  token: string;
  /** When the session ends, epoch ms on the server's clock. */
  endsAt: number;
}

export interface WaitingRoomHooks {
  eventId: number;
  identity(): Identity | undefined;
  /** The server's clock now (epoch ms): the session ends by it. */
  serverNow(): number;
  /** Admitted: the seats may be booked with this admission; or no longer (undefined). */
  admitted(admission: Admission | undefined): void;
  /** The event has no waiting line after all (409 no_queue): the seats are bookable as they are. */
  noLine(): void;
  /** The person's token was refused (401). */
  signedOut(): void;
  say(kind: 'info' | 'ok' | 'warn' | 'error', text: string): void;
}

/** The line's page elements, all in seat-map-page.ts's #waiting-room. */
export interface WaitingRoomElements {
  section: HTMLElement;
  status: HTMLElement;
  detail: HTMLElement;
  live: HTMLElement;
  join: HTMLButtonElement;
  /** The live region: what a screen reader says as the line moves. */
  announcer: HTMLElement;
}

export interface WaitingRoom {
  /** Shows the line: resumes this tab's ticket, or offers to join. */
  open(): void;
  /** After a sign-in or sign-out: the ticket kept for the new person, if any. */
  identityChanged(): void;
  /** Booking refused the admission: the session is over. */
  sessionEnded(): void;
  /** A booking under the admission was confirmed, which ends the session. */
  booked(): void;
}

/** The first wait before opening a dropped stream again; it doubles to the second, with jitter. */
const RECONNECT_FIRST_MS = 1_000;
const RECONNECT_MOST_MS = 15_000;
/**
 * A stream silent this long is taken for dead (a connection lost without a close) and opened
 * again: three of the server's heartbeats (SSE_HEARTBEAT_MS, 15 s by default).
 */
const SILENT_STREAM_MS = 45_000;
/**
 * A moving line changes position every second or so: a screen reader is told the position at most
 * this often (the newest one), and a change of status at once.
 */
const ANNOUNCE_EVERY_MS = 15_000;
/** The session's last stretch, announced once. */
const LAST_MINUTE_MS = 60_000;

const SESSION_OVER = 'Your turn to book is over.';
const ONE_TURN = 'Each buyer has one turn in this line.';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const DAY_AND_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** An on-sale time as a person reads it: the time alone if it is today. */
function when(iso: string): string {
  const at = new Date(iso);
  return at.toDateString() === new Date().toDateString() ? TIME.format(at) : DAY_AND_TIME.format(at);
}

function waitWords(seconds: number): string {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const rest = minutes % 60;
  return `about ${Math.floor(minutes / 60)} h${rest ? ` ${rest} min` : ''}`;
}

/** 9:05 for 545 s, 1:00:00 for an hour. */
function clock(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor(seconds / 60) % 60;
  return hours ? `${hours}:${two(minutes)}:${two(seconds % 60)}` : `${minutes}:${two(seconds % 60)}`;
}

export function waitingRoom(hooks: WaitingRoomHooks, elements: WaitingRoomElements): WaitingRoom {
  const { eventId } = hooks;
  const ticketKey = `seatrush.queue.${eventId}`;
  let ticket: QueueTicket | undefined;
  let admission: Admission | undefined;
  /** Stops following the ticket's stream (and its reconnecting). */
  let following: AbortController | undefined;
  let countdown: ReturnType<typeof setInterval> | undefined;
  let lastMinuteSaid = false;
  let announceTimer: ReturnType<typeof setTimeout> | undefined;
  let lastAnnouncedAt = 0;
  let opened = false;
  /** Seats were booked in this session: its end is no loss. */
  let bookedInSession = false;

  /** This tab's ticket for the person signed in (another person's is not asked for). */
  function keptTicket(userId: number): string | undefined {
    try {
      const kept = JSON.parse(sessionStorage.getItem(ticketKey) ?? 'null') as {
        ticket_id: string;
        user_id: number;
      } | null;
      return kept?.user_id === userId ? kept.ticket_id : undefined;
    } catch {
      return undefined;
    }
  }
  function keepTicket(ticketId: string | undefined): void {
    try {
      const userId = hooks.identity()?.userId;
      if (ticketId && userId !== undefined) {
        sessionStorage.setItem(ticketKey, JSON.stringify({ ticket_id: ticketId, user_id: userId }));
      } else {
        sessionStorage.removeItem(ticketKey);
      }
    } catch {}
  }

  function announce(text: string, now: boolean): void {
    clearTimeout(announceTimer);
    const wait = now ? 0 : lastAnnouncedAt + ANNOUNCE_EVERY_MS - Date.now();
    if (wait > 0) {
      announceTimer = setTimeout(() => announce(text, true), wait);
      return;
    }
    elements.announcer.textContent = text;
    lastAnnouncedAt = Date.now();
  }

  function show(status: string, detail: string, kind: QueueTicket['status'] | 'none'): void {
    elements.status.textContent = status;
    elements.status.dataset.status = kind;
    elements.detail.textContent = detail;
  }

  function setLive(state: 'live' | 'reconnecting' | undefined): void {
    elements.live.hidden = state === undefined;
    if (state) elements.live.dataset.live = state;
    elements.live.textContent = state === 'live' ? 'Live' : 'Reconnecting…';
  }

  function setAdmission(next: Admission | undefined): void {
    if (next?.token === admission?.token && next?.endsAt === admission?.endsAt) return;
    admission = next;
    clearInterval(countdown);
    countdown = undefined;
    hooks.admitted(next);
    if (next) {
      lastMinuteSaid = false;
      countdown = setInterval(tick, 1_000);
    }
  }

  /** The admitted session's time left, each second; at its end the seats are no longer bookable. */
  function tick(): void {
    if (!admission) return;
    const left = admission.endsAt - hooks.serverNow();
    if (left <= 0) {
      setAdmission(undefined);
      show(SESSION_OVER, ONE_TURN, 'expired');
      announce(SESSION_OVER, true);
      return;
    }
    elements.detail.textContent = `Time left to book: ${clock(left)} (until ${TIME.format(new Date(Date.now() + left))}).`;
    if (left <= LAST_MINUTE_MS && !lastMinuteSaid) {
      lastMinuteSaid = true;
      announce('One minute left to book.', true);
    }
  }

  /** Shows where the ticket stands, and what it allows. */
  function apply(next: QueueTicket): void {
    const statusChanged = next.status !== ticket?.status;
    ticket = next;
    keepTicket(next.ticket_id);
    elements.join.hidden = true;
    let said: string;
    switch (next.status) {
      case 'prequeue':
        said = `Pre-queue: your place is drawn at on-sale${next.opens_at ? ` (${when(next.opens_at)})` : ''}.`;
        show(
          said,
          'Everyone who joins before then gets a random place in line. Reloading keeps yours.',
          'prequeue',
        );
        break;
      case 'waiting': {
        said =
          next.position === null
            ? 'You are in line.'
            : `You are number ${next.position.toLocaleString()} in line.`;
        const wait =
          next.estimated_wait_s === null ? '' : `Estimated wait: ${waitWords(next.estimated_wait_s)}.`;
        show(said, wait, 'waiting');
        if (wait) said = `${said} ${wait}`;
        break;
      }
      case 'admitted':
        said = "It's your turn: pick your seats and book them.";
        show(said, '', 'admitted');
        break;
      case 'sold_out':
        said = 'Sold out.';
        show(
          said,
          'Every seat is taken. If seats come back (a cancellation, a lapsed hold), the line moves again: keep this page open.',
          'sold_out',
        );
        break;
      case 'expired':
        said = bookedInSession ? 'You booked your seats: your turn in line is over.' : SESSION_OVER;
        show(said, ONE_TURN, 'expired');
        break;
    }
    setAdmission(
      next.status === 'admitted' && next.admission_token && next.session_expires_at
        ? { token: next.admission_token, endsAt: Date.parse(next.session_expires_at) }
        : undefined,
    );
    announce(said, statusChanged);
    tick();
  }

  function stopFollowing(): void {
    following?.abort();
    following = undefined;
    setLive(undefined);
  }

  /** Reads the ticket's stream until it ends (expired) or is stopped, opening it again when it drops. */
  async function follow(streamUrl: string): Promise<void> {
    stopFollowing();
    const stop = new AbortController();
    following = stop;
    let retryMs = RECONNECT_FIRST_MS;
    while (!stop.signal.aborted) {
      const outcome = await readStream(streamUrl, stop.signal);
      if (outcome === 'ended' || stop.signal.aborted) break;
      if (outcome === 'dropped after events') retryMs = RECONNECT_FIRST_MS;
      setLive('reconnecting');
      // Jittered, so a whole line cut off at once does not come back at once.
      await delay(retryMs * (0.5 + Math.random()));
      retryMs = Math.min(retryMs * 2, RECONNECT_MOST_MS);
    }
    if (following === stop) setLive(undefined);
  }

  async function readStream(
    streamUrl: string,
    stop: AbortSignal,
  ): Promise<'ended' | 'dropped' | 'dropped after events'> {
    const signedIn = hooks.identity();
    if (!signedIn) return 'ended';
    const connection = new AbortController();
    const abort = () => connection.abort();
    stop.addEventListener('abort', abort);
    let silence: ReturnType<typeof setTimeout> | undefined;
    const listen = () => {
      clearTimeout(silence);
      silence = setTimeout(abort, SILENT_STREAM_MS);
    };
    let heard = false;
    let expired = false;
    try {
      listen();
      const response = await fetch(streamUrl, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${signedIn.token}` },
        cache: 'no-store',
        signal: connection.signal,
      });
      if (response.status === 401) {
        hooks.signedOut();
        return 'ended';
      }
      if (response.status === 404) {
        // Not this person's ticket, or gone: start again.
        keepTicket(undefined);
        ticket = undefined;
        setAdmission(undefined);
        offerToJoinNow();
        return 'ended';
      }
      if (!response.ok || !response.body) {
        // Refused (503 while Redis is down): the ticket is still read, from Postgres.
        if (ticket) await refresh(ticket.ticket_id, signedIn);
        return 'dropped';
      }
      setLive('live');
      const parser = createParser({
        onEvent: (message) => {
          heard = true;
          apply(JSON.parse(message.data) as QueueTicket);
          if (message.event === 'expired') expired = true;
        },
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        listen();
        parser.feed(decoder.decode(value, { stream: true }));
        if (expired) break;
      }
    } catch {
      // Dropped, stopped, or silent for too long: the caller tells which.
    } finally {
      clearTimeout(silence);
      stop.removeEventListener('abort', abort);
      connection.abort();
    }
    if (expired) return 'ended';
    return heard ? 'dropped after events' : 'dropped';
  }

  /** The ticket as GET .../queue/:ticketId has it, while its stream is refused. */
  async function refresh(ticketId: string, signedIn: Identity): Promise<void> {
    try {
      const response = await fetch(`/events/${eventId}/queue/${ticketId}`, {
        headers: { accept: 'application/json', authorization: `Bearer ${signedIn.token}` },
      });
      if (response.ok && hooks.identity() === signedIn) apply((await response.json()) as QueueTicket);
    } catch {
      // Unreachable too: the stream's next attempt tries again.
    }
  }

  async function join(): Promise<void> {
    const signedIn = hooks.identity();
    if (!signedIn) return hooks.say('error', 'Sign in before joining the line.');
    elements.join.disabled = true;
    try {
      const response = await fetch(`/events/${eventId}/queue`, {
        method: 'POST',
        headers: { accept: 'application/json', authorization: `Bearer ${signedIn.token}` },
      });
      if (response.status === 200 || response.status === 201) {
        const joined = (await response.json()) as QueueTicket;
        hooks.say(
          'info',
          response.status === 201 ? 'You joined the line.' : 'You are already in line: same place.',
        );
        apply(joined);
        if (joined.status !== 'expired') void follow(joined.stream_url);
        return;
      }
      const refusal = (await response.json().catch(() => ({}))) as {
        reason?: string;
        opens_at?: string;
        detail?: string;
        title?: string;
      };
      const detail = String(refusal.detail || refusal.title || `HTTP ${response.status}`).replace(/\.$/, '');
      if (response.status === 401) {
        hooks.signedOut();
      } else if (response.status === 409 && refusal.reason === 'no_queue') {
        elements.section.hidden = true;
        hooks.noLine();
      } else if (response.status === 403 && refusal.reason === 'queue_not_open') {
        const opensAt = refusal.opens_at ? ` It opens ${when(refusal.opens_at)}.` : '';
        hooks.say('warn', `The line is not open yet.${opensAt}`);
      } else if (response.status === 429) {
        const seconds = Number(response.headers.get('retry-after'));
        const howLong = Number.isFinite(seconds) && seconds > 0 ? `${seconds} s` : 'a moment';
        hooks.say('warn', `Too many people are joining right now. Please wait ${howLong} and try again.`);
      } else if (response.status >= 500) {
        hooks.say('error', `Could not join the line (HTTP ${response.status}). Please try again.`);
      } else {
        hooks.say('error', `Could not join the line: ${detail}.`);
      }
    } catch {
      hooks.say('error', 'Could not reach the server. Check your connection and try again.');
    } finally {
      elements.join.disabled = false;
    }
  }
  elements.join.addEventListener('click', () => void join());

  /** The ticket this tab kept, as it stands now; followed unless it is over. */
  async function resume(ticketId: string): Promise<void> {
    const signedIn = hooks.identity();
    if (!signedIn) return;
    show('Finding your place in line…', '', 'none');
    const streamUrl = `/events/${eventId}/queue/${ticketId}/stream`;
    try {
      const response = await fetch(`/events/${eventId}/queue/${ticketId}`, {
        headers: { accept: 'application/json', authorization: `Bearer ${signedIn.token}` },
      });
      if (hooks.identity() !== signedIn) return;
      if (response.status === 401) return hooks.signedOut();
      if (response.status === 404) {
        keepTicket(undefined);
        return offerToJoinNow();
      }
      if (response.ok) {
        const kept = (await response.json()) as QueueTicket;
        apply(kept);
        if (kept.status !== 'expired') void follow(kept.stream_url);
        return;
      }
    } catch {
      // Unreachable for now: the stream's reconnecting tries again.
    }
    void follow(streamUrl);
  }

  function offerToJoinNow(): void {
    show(
      'This on-sale has a waiting line.',
      'Join it to pick seats: buyers are let in a few at a time, as seats allow.',
      'none',
    );
    elements.join.hidden = false;
  }

  function identityChanged(): void {
    if (!opened) return;
    stopFollowing();
    ticket = undefined;
    setAdmission(undefined);
    const signedIn = hooks.identity();
    const kept = signedIn && keptTicket(signedIn.userId);
    if (kept) {
      elements.join.hidden = true;
      void resume(kept);
    } else {
      offerToJoinNow();
      if (!signedIn) elements.detail.textContent = 'Sign in, then join the line to pick seats.';
    }
  }

  return {
    open() {
      if (opened) return;
      opened = true;
      elements.section.hidden = false;
      identityChanged();
    },
    identityChanged,
    sessionEnded() {
      setAdmission(undefined);
      show(SESSION_OVER, ONE_TURN, 'expired');
    },
    booked() {
      if (admission) bookedInSession = true;
    },
  };
}
