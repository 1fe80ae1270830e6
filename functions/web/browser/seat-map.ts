/// <reference lib="dom" />
/**
 * The seat-map page's script, run in the browser (served at /assets/seat-map.js as the bundle
 * `npm run build:web` writes to ../generated/). It draws the seats from the stream's snapshot,
 * applies every change, frees a hold when its `expires_at` passes (no change announces that), and
 * books the selected seats with POST /bookings/book as the person signed in (identity.ts, oidc.ts),
 * saying what each answer means. The seats are drawn to fit their box (seat-zoom.ts). For an event
 * with a waiting line the seats stay hidden until the buyer is admitted (waiting-room.ts), and each
 * booking carries the admission's token.
 *
 * Only types may be imported from the server's code (`import type`): they vanish from the bundle.
 */
import type { RejectionReason } from '../../../lib/booking/messages.ts';
import type {
  BookingView,
  ChangeData,
  EventSeatsBody,
  RequestStatusBody,
  SnapshotData,
} from '../../../lib/booking/responses.ts';
import type { UserBooking } from '../../user-bookings/list-user-bookings.ts';
import {
  demoSignIn,
  type Identity,
  keepIdentity,
  keptIdentity,
  SignInError,
  tokenSignIn,
} from './identity.ts';
import { finishOidcSignIn, type OidcSettings, startOidcSignIn } from './oidc.ts';
import { seatZoom } from './seat-zoom.ts';
import { type Admission, waitingRoom } from './waiting-room.ts';

type SeatState = EventSeatsBody['seats'][number]['state'];

/** Why a request was refused, as its status says once decided. */
type Refusal = Extract<RequestStatusBody, { status: 'REJECTED' }>['reason'];

/** Why a booking is forbidden (403) for an event with a waiting line or not on sale yet. */
type GateReason = 'admission_required' | 'not_on_sale';

/** What POST /bookings/book answers (201, 202, or a problem), as far as the page reads it. */
interface BookAnswer {
  bookings?: BookingView[];
  request_id?: string;
  status_url?: string;
  /** A refused booking's problem: why, and which seats. */
  reason?: RejectionReason | GateReason;
  /** With `not_on_sale`: when booking opens. */
  on_sale_at?: string;
  taken_seat_ids?: number[];
  unknown_seat_ids?: number[];
  title?: string;
  detail?: string;
}

interface Seat {
  id: number;
  number: string;
  state: SeatState;
  expiresAt: number | undefined;
}

const STATE_WORDS: Record<SeatState, string> = { available: 'free', held: 'held', booked: 'booked' };

/** How often a 202's outcome is asked for, and for how long. */
const FOLLOW_INTERVAL_MS = 500;
const FOLLOW_FOR_MS = 30_000;
/** How often lapsed holds are looked for. */
const LAPSE_CHECK_MS = 250;
/** How long to wait before opening a stream the server refused again. */
const RECONNECT_MS = 3_000;
/** The person's newest bookings read to mark their seats (GET /bookings/user/:id's largest page). */
const OWN_BOOKINGS_READ = 200;

/** The page's elements, all rendered by seat-map-page.ts around #seat-map. */
function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Splits "B12" into row "B" and number 12; other seat numbers go to one row of their own. */
function place(seatNumber: string): { row: string; at: number } {
  const match = /^([A-Za-z]+)[-\s]?(\d+)$/.exec(seatNumber);
  if (!match) return { row: '', at: Number.NaN };
  const [, row = '', at] = match;
  return { row: row.toUpperCase(), at: Number(at) };
}

/** Rows by length, then alphabetically (A…Z, AA…), with the row of odd seat numbers last. */
function compareRows(a: string, b: string): number {
  if (a === '') return 1;
  if (b === '') return -1;
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function retryAfter(response: Response): number | undefined {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

function startSeatMap(root: HTMLElement): void {
  const eventId = Number(root.dataset.eventId);
  const maxSeats = Number(root.dataset.maxSeats) || 10;
  const grid = byId('grid');
  const message = byId('message');
  const live = byId('live');
  const counts = byId('counts');
  const selection = byId('selection');
  const signInSection = byId('sign-in');
  const signedOutView = byId('signed-out');
  const signedInView = byId('signed-in');
  const who = byId('who');
  const tokenInput = byId<HTMLInputElement>('token');
  const bookButton = byId<HTMLButtonElement>('book');
  const clearButton = byId<HTMLButtonElement>('clear');
  const seatsView = byId('seats-view');
  const zoom = seatZoom({
    hall: byId('hall'),
    grid,
    zoomIn: byId<HTMLButtonElement>('zoom-in'),
    zoomOut: byId<HTMLButtonElement>('zoom-out'),
    fit: byId<HTMLButtonElement>('zoom-fit'),
  });

  const seats = new Map<number, Seat>();
  const buttons = new Map<number, HTMLButtonElement>();
  const selected = new Set<number>();
  const mine = new Set<number>();
  /** Seats of the request in flight: their hold is ours, not someone else's. */
  let pending = new Set<number>();
  /** Server clock minus ours, so a hold's expires_at is read on the server's clock. */
  let clockOffset = 0;
  let lastEventId = '';
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let booking = false;
  let identity: Identity | undefined;
  /** The event has a waiting line (its queue is enabled): booking needs an admission. */
  let lineRequired = root.dataset.line === 'required';
  let admission: Admission | undefined;
  let streaming = false;
  /** When the sale opens (epoch ms), if the event says. */
  const onSaleAt = root.dataset.onSaleAt ? Date.parse(root.dataset.onSaleAt) : undefined;

  function say(kind: 'info' | 'ok' | 'warn' | 'error', text: string): void {
    message.dataset.kind = kind;
    message.textContent = text;
  }

  function seatNames(ids: readonly number[]): string {
    const names = ids.map((id) => seats.get(id)?.number ?? `#${id}`);
    return names.length <= 1
      ? names.join('')
      : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  }

  function showIdentity(): void {
    signedOutView.hidden = identity !== undefined;
    signedInView.hidden = identity === undefined;
    who.textContent = identity?.label ?? '';
  }

  /** Marks the person's booked seats of this event as theirs (their newest bookings: enough for one event). */
  async function loadMine(): Promise<void> {
    if (!identity) return;
    try {
      const response = await fetch(`/bookings/user/${identity.userId}?limit=${OWN_BOOKINGS_READ}`, {
        headers: { accept: 'application/json', ...authorization() },
      });
      if (!response.ok) return;
      for (const booking of (await response.json()) as UserBooking[]) {
        if (booking.event_id === eventId && booking.status === 'CONFIRMED') mine.add(booking.seat_id);
      }
    } catch {
      // Unreachable: the seats booked from this page are still marked as they are booked.
    }
    for (const id of mine) paint(id);
  }

  function signedInAs(signedIn: Identity | undefined): void {
    identity = signedIn;
    keepIdentity(signedIn);
    const marked = [...mine];
    mine.clear();
    for (const id of marked) paint(id);
    showIdentity();
    void loadMine();
    line.identityChanged();
  }

  /** Runs one way of signing in, saying what went wrong if it did. */
  async function signInWith(attempt: () => Promise<Identity | undefined>): Promise<void> {
    try {
      const signedIn = await attempt();
      if (!signedIn) return;
      signedInAs(signedIn);
      say('info', `Signed in as ${signedIn.label}.`);
    } catch (error) {
      say('error', error instanceof SignInError ? error.message : `Could not sign in: ${String(error)}.`);
    }
  }

  const oidc: OidcSettings | undefined = signInSection.dataset.oidcIssuer
    ? {
        issuer: signInSection.dataset.oidcIssuer,
        clientId: signInSection.dataset.oidcClientId ?? '',
        scope: signInSection.dataset.oidcScope ?? 'openid',
        audience: signInSection.dataset.oidcAudience ?? '',
      }
    : undefined;
  if (oidc) {
    byId('oidc-sign-in').addEventListener('click', () =>
      startOidcSignIn(oidc, new URL(location.href)).catch((error) =>
        say('error', `Could not reach the sign-in provider: ${String(error)}.`),
      ),
    );
  }
  document.getElementById('demo-sign-in')?.addEventListener('click', () => {
    const userId = Number(byId<HTMLSelectElement>('demo-user').value);
    void signInWith(() => demoSignIn(userId));
  });
  byId('token-sign-in').addEventListener('click', () => {
    const token = tokenInput.value.trim();
    if (!token) return say('error', 'Paste an access token first.');
    void signInWith(() => tokenSignIn(token)).then(() => {
      tokenInput.value = '';
    });
  });
  byId('sign-out').addEventListener('click', () => {
    signedInAs(undefined);
    say('info', 'Signed out.');
  });

  function build(list: EventSeatsBody['seats']): void {
    grid.textContent = '';
    buttons.clear();
    const rows = new Map<string, { seat: EventSeatsBody['seats'][number]; at: number }[]>();
    for (const seat of list) {
      const where = place(seat.seat_number);
      const row = rows.get(where.row) ?? [];
      rows.set(where.row, row);
      row.push({ seat, at: where.at });
    }
    // The rows are sized before they are drawn (one layout), and go in at once.
    zoom.setWidestRow(Math.max(...[...rows.values()].map((entries) => entries.length)));
    const drawn = document.createDocumentFragment();
    for (const [label, entries] of [...rows].sort(([a], [b]) => compareRows(a, b))) {
      const row = document.createElement('div');
      row.className = 'row';
      const name = document.createElement('span');
      name.className = 'row-label';
      name.textContent = label;
      row.append(name);
      entries.sort((a, b) => a.at - b.at || a.seat.seat_id - b.seat.seat_id);
      for (const { seat, at } of entries) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'seat';
        button.dataset.seatId = String(seat.seat_id);
        button.dataset.seatNumber = seat.seat_number;
        button.textContent = Number.isNaN(at) ? seat.seat_number : String(at);
        buttons.set(seat.seat_id, button);
        row.append(button);
      }
      drawn.append(row);
    }
    grid.append(drawn);
  }
  // One listener for every seat, however many.
  grid.addEventListener('click', (event) => {
    const button = (event.target as Element).closest<HTMLElement>('.seat[data-seat-id]');
    if (button) toggle(Number(button.dataset.seatId));
  });

  function paint(id: number): void {
    const seat = seats.get(id);
    const button = buttons.get(id);
    if (!seat || !button) return;
    button.dataset.state = seat.state;
    button.classList.toggle('selected', selected.has(id));
    button.classList.toggle('mine', mine.has(id));
    button.setAttribute('aria-pressed', selected.has(id) ? 'true' : 'false');
    const whose = mine.has(id) && seat.state === 'booked' ? ', yours' : '';
    button.setAttribute('aria-label', `Seat ${seat.number}, ${STATE_WORDS[seat.state]}${whose}`);
    button.title = `${seat.number} · ${STATE_WORDS[seat.state]}${whose}`;
  }

  function summarize(): void {
    const count: Record<SeatState, number> = { available: 0, held: 0, booked: 0 };
    for (const seat of seats.values()) count[seat.state]++;
    counts.textContent = `${count.available} free · ${count.held} held · ${count.booked} booked`;
    const ids = [...selected];
    selection.textContent = ids.length ? seatNames(ids) : 'none';
    bookButton.disabled = booking || ids.length === 0 || (lineRequired && !admission);
    bookButton.textContent = ids.length > 1 ? `Book ${ids.length} seats` : 'Book seat';
  }

  /** A full picture (the stream's snapshot, or GET /events/seats/:id while the stream is down). */
  function applySeats(body: SnapshotData | EventSeatsBody): void {
    if ('server_time' in body) clockOffset = body.server_time - Date.now();
    const sameSeats = body.seats.length === seats.size && body.seats.every((s) => seats.has(s.seat_id));
    if (!sameSeats) {
      seats.clear();
      build(body.seats);
    }
    for (const s of body.seats) {
      seats.set(s.seat_id, { id: s.seat_id, number: s.seat_number, state: s.state, expiresAt: s.expires_at });
    }
    for (const id of [...selected]) if (seats.get(id)?.state !== 'available') selected.delete(id);
    for (const id of seats.keys()) paint(id);
    summarize();
  }

  function applyChange(change: ChangeData): void {
    const lost: number[] = [];
    for (const id of change.seat_ids) {
      const seat = seats.get(id);
      if (!seat) continue;
      seat.state = change.state;
      seat.expiresAt = change.state === 'held' ? change.expires_at : undefined;
      if (change.state === 'available') mine.delete(id);
      if (change.state !== 'available' && selected.has(id) && !pending.has(id)) {
        selected.delete(id);
        lost.push(id);
      }
      paint(id);
    }
    if (lost.length) {
      const were = lost.length > 1 ? 'were' : 'was';
      say('warn', `${seatNames(lost)} ${were} just taken by someone else; pick another seat.`);
    }
    summarize();
  }

  // Holds lapse by their TTL in Redis, with no change sent: free them when expires_at passes.
  setInterval(() => {
    const now = Date.now() + clockOffset;
    let freed = false;
    for (const seat of seats.values()) {
      if (seat.state === 'held' && typeof seat.expiresAt === 'number' && seat.expiresAt <= now) {
        seat.state = 'available';
        seat.expiresAt = undefined;
        paint(seat.id);
        freed = true;
      }
    }
    if (freed) summarize();
  }, LAPSE_CHECK_MS);

  function toggle(id: number): void {
    const seat = seats.get(id);
    if (!seat || booking) return;
    if (lineRequired && !admission && !selected.has(id)) {
      say(
        'info',
        'Booking here goes through the waiting line: join it, and pick seats once it is your turn.',
      );
      return;
    }
    if (selected.has(id)) {
      selected.delete(id);
    } else if (seat.state !== 'available') {
      const advice = mine.has(id) ? ' by you.' : '; pick a free (green) seat.';
      say('warn', `Seat ${seat.number} is ${STATE_WORDS[seat.state]}${advice}`);
      return;
    } else if (selected.size >= maxSeats) {
      say('warn', `At most ${maxSeats} seats can be booked at once.`);
      return;
    } else {
      selected.add(id);
    }
    paint(id);
    summarize();
  }

  clearButton.addEventListener('click', () => {
    const ids = [...selected];
    selected.clear();
    for (const id of ids) paint(id);
    summarize();
  });

  function booked(ids: readonly number[]): void {
    for (const id of ids) {
      mine.add(id);
      selected.delete(id);
      paint(id);
    }
    say('ok', `Booked: ${seatNames(ids)}. Enjoy the show!`);
    line.booked();
  }

  function rejected(
    reason: Refusal | GateReason | undefined,
    offending: readonly number[] | undefined,
  ): void {
    if (reason === 'SEATS_TAKEN') {
      const ids = offending ?? [];
      for (const id of ids) {
        selected.delete(id);
        paint(id);
      }
      const were = ids.length > 1 ? 'were' : 'was';
      say(
        'warn',
        `Sorry, ${ids.length ? seatNames(ids) : 'a seat'} ${were} just taken by someone else. ` +
          'Nothing was booked; pick other seats and try again.',
      );
    } else if (reason === 'UNKNOWN_USER') {
      say('error', `There is no user ${identity?.userId}. Nothing was booked; sign in as another user.`);
    } else if (reason === 'UNKNOWN_SEATS' || reason === 'UNKNOWN_EVENT') {
      say('error', 'Those seats are no longer part of this event. Nothing was booked; reload the page.');
    } else {
      say('error', `The booking was refused (${reason}). Nothing was booked.`);
    }
  }

  /** The signed-in person's token as a bearer token. */
  function authorization(): Record<string, string> {
    return identity ? { authorization: `Bearer ${identity.token}` } : {};
  }

  /** A 202: the request waits in the queue; ask for its outcome until it is decided. */
  async function follow(statusUrl: string, ids: readonly number[]): Promise<void> {
    const deadline = Date.now() + FOLLOW_FOR_MS;
    while (Date.now() < deadline) {
      await delay(FOLLOW_INTERVAL_MS);
      try {
        const response = await fetch(statusUrl, {
          headers: { accept: 'application/json', ...authorization() },
        });
        if (!response.ok) continue;
        const status = (await response.json()) as RequestStatusBody;
        if (status.status === 'CONFIRMED') return booked(ids);
        if (status.status === 'REJECTED') return rejected(status.reason, status.offending_ids);
      } catch {
        // Unreachable for now: ask again at the next turn.
      }
    }
    say('warn', 'Your request was accepted but is not decided yet. Check your bookings in a moment.');
  }

  async function book(): Promise<void> {
    // Who books is who was signed in at the click, whatever happens meanwhile.
    const bookingAs = identity;
    if (!bookingAs) {
      say('error', 'Sign in before booking.');
      return;
    }
    const { userId } = bookingAs;
    const ids = [...selected];
    if (ids.length === 0) {
      say('error', 'Select at least one free seat first.');
      return;
    }
    booking = true;
    pending = new Set(ids);
    summarize();
    say('info', `Booking ${seatNames(ids)}…`);
    try {
      let response: Response;
      try {
        response = await fetch('/bookings/book', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...authorization() },
          body: JSON.stringify({
            user_id: userId,
            event_id: eventId,
            seat_ids: ids,
            ...(admission ? { admission_token: admission.token } : {}),
          }),
        });
      } catch {
        say('error', 'Could not reach the server. Check your connection and try again.');
        return;
      }
      const body = (await response.json().catch(() => ({}))) as BookAnswer;
      const wait = retryAfter(response);
      if (response.status === 201) {
        booked((body.bookings || []).map((b) => b.seat_id).filter((id) => seats.has(id)));
      } else if (response.status === 202) {
        say('info', `Request accepted; waiting for the confirmation of ${seatNames(ids)}…`);
        await follow(body.status_url || `/bookings/requests/${body.request_id}`, ids);
      } else if (response.status === 401) {
        signedInAs(undefined);
        say(
          'error',
          'Your sign-in is no longer accepted (expired or revoked). Nothing was booked; sign in again.',
        );
      } else if (response.status === 403 && body.reason === 'admission_required' && admission) {
        // Refused with the admission: its session ended meanwhile (booked, or out of time).
        line.sessionEnded();
        say('error', 'Your turn to book is over. Nothing was booked.');
      } else if (response.status === 403 && body.reason === 'admission_required') {
        lineRequired = true;
        line.open();
        say('warn', 'Booking for this event goes through a waiting line: join it. Nothing was booked.');
      } else if (response.status === 403 && body.reason === 'not_on_sale') {
        const opens = body.on_sale_at ? Date.parse(body.on_sale_at) : onSaleAt;
        const from = opens ? ` (from ${new Date(opens).toLocaleString()})` : '';
        say('warn', `Tickets for this event are not on sale yet${from}. Nothing was booked.`);
      } else if (response.status === 403) {
        say(
          'error',
          `Signed in as ${bookingAs.label}, you may not book for user ${userId}. Nothing was booked.`,
        );
      } else if (response.status >= 400 && response.status < 500 && body.reason) {
        rejected(body.reason, body.taken_seat_ids || body.unknown_seat_ids);
      } else if (response.status === 429) {
        const howLong = wait ? `${wait} s` : 'a moment';
        say('warn', `Too many requests right now. Please wait ${howLong} and try again.`);
      } else if (response.status === 503) {
        const when = wait ? `in ${wait} s.` : 'shortly.';
        say('error', `Booking is unavailable right now. Nothing was booked; try again ${when}`);
      } else if (response.status >= 400 && response.status < 500) {
        const detail = String(body.detail || body.title || `HTTP ${response.status}`).replace(/\.$/, '');
        say('error', `Could not book: ${detail}.`);
      } else {
        say('error', `Something went wrong on our side (HTTP ${response.status}). Please try again.`);
      }
    } finally {
      booking = false;
      pending = new Set();
      for (const id of seats.keys()) paint(id);
      summarize();
    }
  }
  bookButton.addEventListener('click', () => void book());

  function setLive(state: 'live' | 'paused' | 'reconnecting', text: string): void {
    live.dataset.live = state;
    live.textContent = text;
  }

  /** While the stream is down, the seats still come from GET /events/seats/:id (Postgres if need be). */
  async function loadOnce(): Promise<void> {
    try {
      const response = await fetch(`/events/seats/${eventId}`, { headers: { accept: 'application/json' } });
      if (response.status === 404) return say('error', 'This event does not exist.');
      if (response.ok) applySeats((await response.json()) as EventSeatsBody);
    } catch {
      // Unreachable too: the stream's next attempt tries again.
    }
  }

  function connect(): void {
    clearTimeout(retryTimer);
    const query = lastEventId ? `?last_event_id=${encodeURIComponent(lastEventId)}` : '';
    const source = new EventSource(`/events/${eventId}/stream${query}`);
    source.addEventListener('open', () => setLive('live', 'Live'));
    source.addEventListener('snapshot', (event) => {
      lastEventId = event.lastEventId;
      applySeats(JSON.parse(event.data) as SnapshotData);
    });
    source.addEventListener('change', (event) => {
      lastEventId = event.lastEventId;
      applyChange(JSON.parse(event.data) as ChangeData);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 503 while Redis is down): the browser gives up, so retry ourselves, and
        // meanwhile show the seats as GET /events/seats/:id has them.
        setLive('paused', 'Live updates paused; retrying…');
        void loadOnce();
        retryTimer = setTimeout(connect, RECONNECT_MS);
      } else {
        // A lost connection: the browser reconnects by itself with the Last-Event-ID.
        setLive('reconnecting', 'Reconnecting…');
        if (seats.size === 0) void loadOnce();
      }
    });
  }

  /** Shows the seats, live. */
  function showSeats(): void {
    seatsView.hidden = false;
    if (!streaming) {
      streaming = true;
      connect();
    }
  }

  const line = waitingRoom(
    {
      eventId,
      identity: () => identity,
      serverNow: () => Date.now() + clockOffset,
      admitted(next) {
        admission = next;
        if (next) showSeats();
        summarize();
      },
      noLine() {
        lineRequired = false;
        showSeats();
        summarize();
      },
      signedOut() {
        signedInAs(undefined);
        say('error', 'Your sign-in is no longer accepted (expired or revoked); sign in again.');
      },
      say,
    },
    {
      section: byId('waiting-room'),
      status: byId('line-status'),
      detail: byId('line-detail'),
      live: byId('line-live'),
      join: byId<HTMLButtonElement>('join-line'),
      announcer: byId('line-announce'),
    },
  );

  identity = keptIdentity();
  showIdentity();
  void loadMine();
  if (lineRequired) {
    line.open();
  } else {
    showSeats();
    if (onSaleAt && onSaleAt > Date.now())
      say('info', `Tickets go on sale ${new Date(onSaleAt).toLocaleString()}.`);
  }
  if (oidc) {
    const page = new URL(location.href);
    void signInWith(async () => {
      const returned = await finishOidcSignIn(oidc, page);
      if (!returned) return undefined;
      // The provider's answer leaves the address bar: a reload must not replay it.
      history.replaceState(null, '', page.pathname);
      return tokenSignIn(returned.accessToken, returned);
    });
  }
  summarize();
}

const seatMap = document.getElementById('seat-map');
if (seatMap) startSeatMap(seatMap);
