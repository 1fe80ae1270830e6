/**
 * The seat-map page's script (served at /assets/seat-map.js): plain browser JavaScript, no build
 * step. It draws the seats from the stream's snapshot, applies every change, frees a hold when
 * its `expires_at` passes (no change announces that), and books the selected seats with
 * POST /bookings/book, saying what each answer means.
 */
export const SEAT_MAP_JS = `'use strict';
(() => {
  const root = document.getElementById('seat-map');
  if (!root) return;
  const eventId = Number(root.dataset.eventId);
  const maxSeats = Number(root.dataset.maxSeats) || 10;
  const grid = document.getElementById('grid');
  const message = document.getElementById('message');
  const live = document.getElementById('live');
  const counts = document.getElementById('counts');
  const selection = document.getElementById('selection');
  const userInput = document.getElementById('user-id');
  const tokenInput = document.getElementById('token');
  const bookButton = document.getElementById('book');
  const clearButton = document.getElementById('clear');

  /** seat id -> { id, number, state, expiresAt } */
  const seats = new Map();
  const buttons = new Map();
  const selected = new Set();
  const mine = new Set();
  /** Seats of the request in flight: their hold is ours, not someone else's. */
  let pending = new Set();
  /** Server clock minus ours, so a hold's expires_at is read on the server's clock. */
  let clockOffset = 0;
  let lastEventId = '';
  let source;
  let retryTimer;
  let booking = false;

  /** Both fields are kept across visits, in this browser only. */
  for (const [input, key] of [[userInput, 'seatrush.userId'], [tokenInput, 'seatrush.token']]) {
    try { input.value = localStorage.getItem(key) || ''; } catch {}
    input.addEventListener('change', () => {
      try { localStorage.setItem(key, input.value.trim()); } catch {}
    });
  }

  function say(kind, text) {
    message.dataset.kind = kind;
    message.textContent = text;
  }

  function seatNames(ids) {
    const names = ids.map((id) => (seats.get(id) ? seats.get(id).number : '#' + id));
    return names.length <= 1 ? names.join('') : names.slice(0, -1).join(', ') + ' and ' + names[names.length - 1];
  }

  const STATE_WORDS = { available: 'free', held: 'held', booked: 'booked' };

  /** Splits "B12" into row "B" and number 12; other seat numbers go to one row of their own. */
  function place(seatNumber) {
    const match = /^([A-Za-z]+)[-\\s]?(\\d+)$/.exec(seatNumber);
    return match ? { row: match[1].toUpperCase(), at: Number(match[2]) } : { row: '', at: Number.NaN };
  }

  function compareRows(a, b) {
    if (a === '') return 1;
    if (b === '') return -1;
    return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  }

  function build(list) {
    grid.textContent = '';
    buttons.clear();
    const rows = new Map();
    for (const seat of list) {
      const where = place(seat.seat_number);
      if (!rows.has(where.row)) rows.set(where.row, []);
      rows.get(where.row).push({ seat, at: where.at });
    }
    for (const label of [...rows.keys()].sort(compareRows)) {
      const row = document.createElement('div');
      row.className = 'row';
      const name = document.createElement('span');
      name.className = 'row-label';
      name.textContent = label;
      row.append(name);
      const entries = rows.get(label);
      entries.sort((a, b) => (a.at - b.at) || (a.seat.seat_id - b.seat.seat_id));
      for (const { seat, at } of entries) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'seat';
        button.dataset.seatId = String(seat.seat_id);
        button.dataset.seatNumber = seat.seat_number;
        button.textContent = Number.isNaN(at) ? seat.seat_number : String(at);
        button.addEventListener('click', () => toggle(seat.seat_id));
        buttons.set(seat.seat_id, button);
        row.append(button);
      }
      grid.append(row);
    }
  }

  function paint(id) {
    const seat = seats.get(id);
    const button = buttons.get(id);
    if (!seat || !button) return;
    button.dataset.state = seat.state;
    button.classList.toggle('selected', selected.has(id));
    button.classList.toggle('mine', mine.has(id));
    button.setAttribute('aria-pressed', selected.has(id) ? 'true' : 'false');
    const whose = mine.has(id) && seat.state === 'booked' ? ', yours' : '';
    button.setAttribute('aria-label', 'Seat ' + seat.number + ', ' + STATE_WORDS[seat.state] + whose);
    button.title = seat.number + ' · ' + STATE_WORDS[seat.state] + whose;
  }

  function summarize() {
    let free = 0, held = 0, booked = 0;
    for (const seat of seats.values()) {
      if (seat.state === 'available') free++;
      else if (seat.state === 'held') held++;
      else booked++;
    }
    counts.textContent = free + ' free · ' + held + ' held · ' + booked + ' booked';
    const ids = [...selected];
    selection.textContent = ids.length ? seatNames(ids) : 'none';
    bookButton.disabled = booking || ids.length === 0;
    bookButton.textContent = ids.length > 1 ? 'Book ' + ids.length + ' seats' : 'Book seat';
  }

  /** A full picture (the stream's snapshot, or GET /events/seats/:id while the stream is down). */
  function applySeats(body) {
    if (typeof body.server_time === 'number') clockOffset = body.server_time - Date.now();
    const sameSeats = body.seats.length === seats.size && body.seats.every((s) => seats.has(s.seat_id));
    if (!sameSeats) {
      seats.clear();
      build(body.seats);
    }
    for (const s of body.seats) {
      seats.set(s.seat_id, { id: s.seat_id, number: s.seat_number, state: s.state, expiresAt: s.expires_at });
    }
    for (const id of [...selected]) if (!seats.has(id) || seats.get(id).state !== 'available') selected.delete(id);
    for (const id of seats.keys()) paint(id);
    summarize();
  }

  function applyChange(change) {
    const lost = [];
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
    if (lost.length) say('warn', seatNames(lost) + (lost.length > 1 ? ' were' : ' was') + ' just taken by someone else; pick another seat.');
    summarize();
  }

  /** Holds lapse by their TTL in Redis, with no change sent: free them when expires_at passes. */
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
  }, 250);

  function toggle(id) {
    const seat = seats.get(id);
    if (!seat || booking) return;
    if (selected.has(id)) {
      selected.delete(id);
    } else if (seat.state !== 'available') {
      say('warn', 'Seat ' + seat.number + ' is ' + STATE_WORDS[seat.state] + (mine.has(id) ? ' by you.' : '; pick a free (green) seat.'));
      return;
    } else if (selected.size >= maxSeats) {
      say('warn', 'At most ' + maxSeats + ' seats can be booked at once.');
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

  function retryAfter(response) {
    const seconds = Number(response.headers.get('retry-after'));
    return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
  }

  function booked(ids) {
    for (const id of ids) {
      mine.add(id);
      selected.delete(id);
      paint(id);
    }
    say('ok', 'Booked: ' + seatNames(ids) + '. Enjoy the show!');
  }

  function rejected(reason, offending) {
    if (reason === 'SEATS_TAKEN') {
      const ids = Array.isArray(offending) ? offending : [];
      for (const id of ids) {
        selected.delete(id);
        paint(id);
      }
      say('warn', 'Sorry, ' + (ids.length ? seatNames(ids) : 'a seat') + (ids.length > 1 ? ' were' : ' was') +
        ' just taken by someone else. Nothing was booked; pick other seats and try again.');
    } else if (reason === 'UNKNOWN_USER') {
      say('error', 'There is no user ' + userInput.value + '. Nothing was booked; check your user id.');
    } else if (reason === 'UNKNOWN_SEATS' || reason === 'UNKNOWN_EVENT') {
      say('error', 'Those seats are no longer part of this event. Nothing was booked; reload the page.');
    } else {
      say('error', 'The booking was refused (' + reason + '). Nothing was booked.');
    }
  }

  /** A 202: the request waits in the queue; ask for its outcome until it is decided. */
  async function follow(statusUrl, ids) {
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      try {
        const headers = { accept: 'application/json' };
        if (tokenInput.value.trim()) headers.authorization = 'Bearer ' + tokenInput.value.trim();
        const response = await fetch(statusUrl, { headers });
        if (!response.ok) continue;
        const status = await response.json();
        if (status.status === 'CONFIRMED') return booked(ids);
        if (status.status === 'REJECTED') return rejected(status.reason, status.offending_ids);
      } catch {}
    }
    say('warn', 'Your request was accepted but is not decided yet. Check your bookings in a moment.');
  }

  async function book() {
    const userId = Number(userInput.value);
    const token = tokenInput.value.trim();
    if (!Number.isInteger(userId) || userId < 1) {
      say('error', 'Enter your user id (a whole number from 1) before booking.');
      userInput.focus();
      return;
    }
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    const ids = [...selected];
    if (ids.length === 0) {
      say('error', 'Select at least one free seat first.');
      return;
    }
    booking = true;
    pending = new Set(ids);
    summarize();
    say('info', 'Booking ' + seatNames(ids) + '…');
    try {
      let response;
      try {
        response = await fetch('/bookings/book', {
          method: 'POST',
          headers,
          body: JSON.stringify({ user_id: userId, event_id: eventId, seat_ids: ids }),
        });
      } catch {
        say('error', 'Could not reach the server. Check your connection and try again.');
        return;
      }
      const body = await response.json().catch(() => ({}));
      const wait = retryAfter(response);
      if (response.status === 201) {
        booked((body.bookings || []).map((b) => b.seat_id).filter((id) => seats.has(id)));
      } else if (response.status === 202) {
        say('info', 'Request accepted; waiting for the confirmation of ' + seatNames(ids) + '…');
        await follow(body.status_url || '/bookings/requests/' + body.request_id, ids);
      } else if (response.status === 401) {
        say('error', (token ? 'Your access token was not accepted (expired or wrong).' : 'Booking needs an access token: paste yours above.') + ' Nothing was booked.');
        tokenInput.focus();
      } else if (response.status === 403) {
        say('error', 'Your access token is not for user ' + userId + '. Nothing was booked.');
      } else if (response.status >= 400 && response.status < 500 && body.reason) {
        rejected(body.reason, body.taken_seat_ids || body.unknown_seat_ids);
      } else if (response.status === 429) {
        say('warn', 'Too many requests right now. Please wait ' + (wait ? wait + ' s' : 'a moment') + ' and try again.');
      } else if (response.status === 503) {
        say('error', 'Booking is unavailable right now. Nothing was booked; try again ' + (wait ? 'in ' + wait + ' s.' : 'shortly.'));
      } else if (response.status >= 400 && response.status < 500) {
        say('error', 'Could not book: ' + String(body.detail || body.title || 'HTTP ' + response.status).replace(/\\.$/, '') + '.');
      } else {
        say('error', 'Something went wrong on our side (HTTP ' + response.status + '). Please try again.');
      }
    } finally {
      booking = false;
      pending = new Set();
      for (const id of seats.keys()) paint(id);
      summarize();
    }
  }
  bookButton.addEventListener('click', () => void book());

  function setLive(state, text) {
    live.dataset.live = state;
    live.textContent = text;
  }

  /** While the stream is down, the seats still come from GET /events/seats/:id (Postgres if need be). */
  async function loadOnce() {
    try {
      const response = await fetch('/events/seats/' + eventId, { headers: { accept: 'application/json' } });
      if (response.status === 404) return say('error', 'This event does not exist.');
      if (response.ok) applySeats(await response.json());
    } catch {}
  }

  function connect() {
    clearTimeout(retryTimer);
    const query = lastEventId ? '?last_event_id=' + encodeURIComponent(lastEventId) : '';
    source = new EventSource('/events/' + eventId + '/stream' + query);
    source.addEventListener('open', () => setLive('live', 'Live'));
    source.addEventListener('snapshot', (event) => {
      lastEventId = event.lastEventId;
      applySeats(JSON.parse(event.data));
    });
    source.addEventListener('change', (event) => {
      lastEventId = event.lastEventId;
      applyChange(JSON.parse(event.data));
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 503 while Redis is down): the browser gives up, so retry ourselves, and
        // meanwhile show the seats as GET /events/seats/:id has them.
        setLive('paused', 'Live updates paused; retrying…');
        void loadOnce();
        retryTimer = setTimeout(connect, 3000);
      } else {
        // A lost connection: the browser reconnects by itself with the Last-Event-ID.
        setLive('reconnecting', 'Reconnecting…');
        if (seats.size === 0) void loadOnce();
      }
    });
  }

  summarize();
  connect();
})();
`;
