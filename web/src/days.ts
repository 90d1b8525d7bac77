/**
 * The instant a calendar day ("2026-03-29") starts in a time zone, as ISO: the delivery log
 * filters whole days of the workspace's zone, not UTC days. Days of a DST change are 23 or 25
 * hours long; midnight itself always exists in the zones that shift at 01:00 or later.
 */
export function dayStartIn(day: string, timeZone: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const utcMidnight = Date.UTC(y, m - 1, d);
  // The zone's offset at a guess, then at the corrected instant (a DST change on that day).
  let at = utcMidnight - offsetAt(utcMidnight, timeZone);
  at = utcMidnight - offsetAt(at, timeZone);
  return new Date(at).toISOString();
}

/** The day after `day`, as "YYYY-MM-DD". */
export function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** How far the zone's wall clock is ahead of UTC at `at`, in ms. */
function offsetAt(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }).formatToParts(at);
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return wall - Math.floor(at / 1000) * 1000;
}
