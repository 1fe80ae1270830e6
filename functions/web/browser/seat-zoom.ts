/// <reference lib="dom" />
/**
 * How big the seats are drawn. The stylesheet fits the widest row to the map's box by itself
 * (seat-map-style.ts: a seat's side, --seat, from the box's width and --row-seats), so the page
 * never grows wider than the screen and a resized or turned window refits with no script. Here:
 * telling it the widest row, and the zoom buttons, which set the side instead ("Fit width" goes
 * back to fitting).
 */

/** The sides the zoom buttons step through, in CSS pixels. */
const SEAT_SIDES = [4, 6, 8, 10, 12, 14, 17, 20, 24, 30, 36, 44];
const SMALLEST_SIDE = SEAT_SIDES[0] as number;
const LARGEST_SIDE = SEAT_SIDES[SEAT_SIDES.length - 1] as number;

export interface SeatZoomElements {
  /** The scrolling box. */
  hall: HTMLElement;
  /** The rows of seats. */
  grid: HTMLElement;
  zoomIn: HTMLButtonElement;
  zoomOut: HTMLButtonElement;
  fit: HTMLButtonElement;
}

export interface SeatZoom {
  /** The longest row's number of seats, before its rows are drawn (so they are laid out once). */
  setWidestRow(seats: number): void;
}

export function seatZoom({ hall, grid, zoomIn, zoomOut, fit }: SeatZoomElements): SeatZoom {
  /** Sets the side (undefined: fit the box), keeping the point at the box's centre where it was. */
  function draw(side: number | undefined): void {
    const centreX = (hall.scrollLeft + hall.clientWidth / 2) / hall.scrollWidth;
    const centreY = (hall.scrollTop + hall.clientHeight / 2) / hall.scrollHeight;
    if (side === undefined) grid.style.removeProperty('--seat');
    else grid.style.setProperty('--seat', `${side}px`);
    hall.scrollLeft = centreX * hall.scrollWidth - hall.clientWidth / 2;
    hall.scrollTop = centreY * hall.scrollHeight - hall.clientHeight / 2;
    zoomIn.disabled = side !== undefined && side >= LARGEST_SIDE;
    zoomOut.disabled = side !== undefined && side <= SMALLEST_SIDE;
    fit.setAttribute('aria-pressed', side === undefined ? 'true' : 'false');
  }

  /** One step from the side drawn now (read from a seat: only when a button is pressed). */
  function step(direction: 1 | -1): void {
    const side = grid.querySelector('.seat')?.getBoundingClientRect().width;
    if (side === undefined) return;
    const next =
      direction > 0
        ? SEAT_SIDES.find((size) => size > side + 0.5)
        : SEAT_SIDES.filter((size) => size < side - 0.5).pop();
    if (next !== undefined) draw(next);
  }

  zoomIn.addEventListener('click', () => step(1));
  zoomOut.addEventListener('click', () => step(-1));
  fit.addEventListener('click', () => draw(undefined));
  return {
    setWidestRow(seats) {
      grid.style.setProperty('--row-seats', String(Math.max(1, seats)));
    },
  };
}
