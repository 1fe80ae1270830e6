/** The stylesheet of the pages (served at /assets/seat-map.css). */
export const SEAT_MAP_CSS = `
:root {
  --ink: #1d2430;
  --muted: #5b6472;
  --line: #d8dde5;
  --paper: #f6f7f9;
  --free: #e3f4e8;
  --free-edge: #2e8b57;
  --held: #f7c948;
  --held-edge: #b7860b;
  --booked: #a3a9b3;
  --booked-edge: #7b818b;
  --selected: #2563eb;
  --mine: #7c3aed;
  --ok: #166534;
  --warn: #92400e;
  --bad: #b91c1c;
  color-scheme: light;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink);
  background: var(--paper);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--selected); }
header.page { background: #fff; border-bottom: 1px solid var(--line); padding: 1rem 1.5rem; }
header.page h1 { margin: 0.25rem 0 0; font-size: 1.5rem; }
header.page p { margin: 0.25rem 0 0; color: var(--muted); }
main { padding: 1rem 1.5rem 2rem; max-width: 100%; }
/* The hidden attribute wins over any display a class gives. */
[hidden] { display: none !important; }
@media (max-width: 40rem) {
  header.page { padding: 0.75rem 1rem; }
  main { padding: 0.75rem 1rem 1.5rem; }
}

table.events { border-collapse: collapse; background: #fff; border: 1px solid var(--line); min-width: min(100%, 48rem); }
table.events th, table.events td { text-align: left; padding: 0.5rem 0.75rem; border-bottom: 1px solid var(--line); }
table.events td.number { text-align: right; font-variant-numeric: tabular-nums; }

.controls { display: flex; flex-wrap: wrap; gap: 0.75rem 1.25rem; align-items: end; margin-bottom: 0.75rem; }
.controls label { display: grid; gap: 0.2rem; font-size: 0.85rem; color: var(--muted); }
.controls input.token { width: 16rem; }
.controls input { font: inherit; width: 8rem; padding: 0.35rem 0.5rem; border: 1px solid var(--line); border-radius: 6px; }
.controls .selection { min-width: 10rem; padding-bottom: 0.45rem; }
.controls .selection strong { color: var(--ink); font-size: 1rem; }
button.book { font: inherit; font-weight: 600; padding: 0.5rem 1.25rem; border: 0; border-radius: 6px; background: var(--selected); color: #fff; cursor: pointer; }
button.book:disabled { background: var(--booked); cursor: not-allowed; }
button.clear { font: inherit; padding: 0.45rem 0.9rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }

.message { min-height: 2.6rem; margin: 0 0 0.75rem; padding: 0.55rem 0.8rem; border-radius: 6px; border: 1px solid transparent; }
.message:empty { visibility: hidden; }
.message[data-kind="ok"] { background: #dcfce7; border-color: #86efac; color: var(--ok); }
.message[data-kind="info"] { background: #e0e7ff; border-color: #a5b4fc; color: #1e3a8a; }
.message[data-kind="warn"] { background: #fef3c7; border-color: #fcd34d; color: var(--warn); }
.message[data-kind="error"] { background: #fee2e2; border-color: #fca5a5; color: var(--bad); }

.waiting-room { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.25rem; margin-bottom: 0.75rem; }
.waiting-room h2 { margin: 0 0 0.5rem; font-size: 1rem; color: var(--muted); }
.waiting-room p { margin: 0 0 0.5rem; }
.line-status { font-size: 1.25rem; font-weight: 600; }
.line-status[data-status="admitted"] { color: var(--ok); }
.line-status[data-status="sold_out"], .line-status[data-status="expired"] { color: var(--bad); }
.line-detail:empty { display: none; }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

.status-bar { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: center; margin-bottom: 0.75rem; font-size: 0.9rem; color: var(--muted); }
.live::before { content: ""; display: inline-block; width: 0.6rem; height: 0.6rem; border-radius: 50%; margin-right: 0.35rem; background: var(--booked); vertical-align: 0.05rem; }
.live[data-live="live"]::before { background: #22c55e; }
.live[data-live="reconnecting"]::before, .live[data-live="paused"]::before { background: var(--held); }
.legend { display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; list-style: none; margin: 0; padding: 0; }
.legend li { display: flex; align-items: center; gap: 0.35rem; }
.legend .seat { width: 1.1rem; height: 1.1rem; cursor: default; }
.legend .seat.mine { margin: 0 0.2rem; }

/*
 * The map: a bounded box that scrolls both ways, so a hall of any size stays inside the page. A
 * seat's side (--seat) fits the widest row (--row-seats, set by the script) to the box's width
 * (100cqw: the box is a size container), between --smallest-seat and 30px: on a phone a 100-seat
 * row cannot fit, and the box scrolls sideways with the row labels kept in view. The zoom buttons
 * set --seat on the grid instead. Gaps, corners and the seat's number follow the side: below 20px
 * the number is left out (the seat still says it in its label). All of it is layout, in one pass:
 * nothing is measured. Registered (@property), --seat and --numbered are worked out once, on the
 * grid, and inherited as lengths: left as text, each of thousands of seats would work them out
 * again, which took a 4,000-seat map twice as long to draw.
 */
@property --seat { syntax: "<length>"; inherits: true; initial-value: 0px; }
@property --numbered { syntax: "<length>"; inherits: true; initial-value: 0px; }
.map-tools { display: flex; flex-wrap: wrap; gap: 0.4rem; align-items: center; margin-bottom: 0.5rem; font-size: 0.9rem; color: var(--muted); }
.map-tools button { font: inherit; min-width: 2.4rem; padding: 0.3rem 0.6rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--ink); cursor: pointer; }
.map-tools button:disabled { color: var(--booked); cursor: not-allowed; }
.map-tools button[aria-pressed="true"] { border-color: var(--selected); color: var(--selected); }
.hall {
  container-type: inline-size; background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 0.75rem 0.75rem 0.75rem 0; overflow: auto; max-height: 75vh; scrollbar-gutter: stable;
}
.stage { margin: 0 auto 1rem; width: min(60%, 30rem); text-align: center; padding: 0.3rem; border-radius: 0 0 40% 40%; background: var(--ink); color: #fff; font-size: 0.8rem; letter-spacing: 0.2em; text-transform: uppercase; }
.grid {
  --row-seats: 20;
  --smallest-seat: 10px;
  /* A row is its label (2.25rem) and, per seat, the seat and the gap before it (0.13 of a side). */
  --seat: clamp(var(--smallest-seat), (100cqw - 2.25rem - 2px) / (var(--row-seats) * 1.13), 30px);
  /* 1px from a side of 20px up, 0px below (a length times 100, clamped): a switch for the rules below. */
  --numbered: clamp(0px, (var(--seat) - 19.5px) * 100, 1px);
  display: grid; gap: calc(var(--seat) * 0.16); justify-content: center; width: max-content; margin: 0 auto;
}
/* A finger needs 24px (WCAG's minimum target size): below that the box scrolls instead. */
@media (pointer: coarse) { .grid { --smallest-seat: 24px; } }
.row { display: flex; align-items: center; gap: calc(var(--seat) * 0.13); }
.row-label {
  position: sticky; left: 0; z-index: 1; flex: none; width: 2.25rem; align-self: stretch;
  display: flex; align-items: center; justify-content: flex-end; padding-right: 0.35rem; background: #fff;
  font-size: min(0.75rem, var(--seat)); line-height: 1; font-weight: 600; color: var(--muted);
}

.seat {
  width: 1.9rem; height: 1.9rem; padding: 0; border-radius: 6px 6px 3px 3px;
  font: 600 0.7rem/1 system-ui, sans-serif; color: var(--free-edge);
  background: var(--free); border: 1.5px solid var(--free-edge); cursor: pointer;
}
.grid .seat {
  flex: none; width: var(--seat); height: var(--seat);
  border-radius: 20% 20% 10% 10%;
  /* 0.7rem and a 1.5px border with the number, none and 1px without. */
  font-size: calc(var(--numbered) * 11.2); border-width: calc(1px + var(--numbered) * 0.5);
}
.seat:hover[data-state="available"]:not(.selected) { background: #c3e8cf; }
.seat:focus-visible { outline: 3px solid var(--selected); outline-offset: 1px; }
.seat[data-state="held"] {
  background: repeating-linear-gradient(45deg, var(--held), var(--held) 4px, #fbe08f 4px, #fbe08f 8px);
  border-color: var(--held-edge); color: #5c4300; cursor: not-allowed;
}
.seat[data-state="booked"] { background: var(--booked); border-color: var(--booked-edge); color: #fff; cursor: not-allowed; }
.seat.selected { background: var(--selected); border-color: #1e40af; color: #fff; }
.seat.mine { box-shadow: 0 0 0 2px #fff, 0 0 0 4px var(--mine); }
.seat.mine[data-state="booked"] { background: var(--mine); border-color: #5b21b6; }
.grid .seat.mine { box-shadow: 0 0 0 calc(1px + var(--numbered)) #fff, 0 0 0 calc(2px + var(--numbered) * 2) var(--mine); }
`;
