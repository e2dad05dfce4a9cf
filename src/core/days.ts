/**
 * Calendar days as forms send them (`<input type="date">`: `YYYY-MM-DD`), read the same way
 * everywhere a filter or a form takes a day: editions are whole days, in UTC.
 */

/** A `YYYY-MM-DD` day that exists in the calendar, as UTC midnight; else undefined. */
export function parseDay(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s ? d : undefined;
}
