/** Row labels as on a ticket: A..Z, then AA, AB, ... */
export function rowLabel(index: number): string {
  let label = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    label = String.fromCharCode(65 + ((n - 1) % 26)) + label;
  return label;
}

/** Seat numbers for a rows × seatsPerRow layout, row by row: A1, A2, ..., B1, ... */
export function gridSeatNumbers(rows: number, seatsPerRow: number): string[] {
  return Array.from(
    { length: rows * seatsPerRow },
    (_, i) => `${rowLabel(Math.floor(i / seatsPerRow))}${(i % seatsPerRow) + 1}`,
  );
}
