/**
 * The instant a calendar day ("2026-03-29") starts in a time zone, as ISO: the delivery log
 * filters whole days of the workspace's zone, not UTC days. Days of a DST change are 23 or 25
 * hours long; midnight itself always exists in the zones that shift at 01:00 or later.
 */
export function dayStartIn(day: string, timeZone: string): string {
  return wallTimeIn(`${day}T00:00`, timeZone);
}

/**
 * The instant a wall-clock time of a zone ("2026-03-29T09:30", as a datetime-local input
 * gives it) is, as ISO: the replay's "since" is typed in the workspace's zone.
 */
export function wallTimeIn(local: string, timeZone: string): string {
  const [date = "", time = "00:00"] = local.split("T");
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const [hh = 0, mm = 0] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  // The zone's offset at a guess, then at the corrected instant (a DST change that day).
  let at = wall - offsetAt(wall, timeZone);
  at = wall - offsetAt(at, timeZone);
  return new Date(at).toISOString();
}

/** The wall-clock time of `at` in a zone, as a datetime-local input takes it ("2026-03-29T09:30"). */
export function wallTimeOf(at: number, timeZone: string): string {
  return new Date(Math.floor(at / 60_000) * 60_000 + offsetAt(at, timeZone)).toISOString().slice(0, 16);
}

/** The day after `day`, as "YYYY-MM-DD". */
export function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** How far the zone's wall clock is ahead of UTC at `at`, in ms. */
function offsetAt(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(at);
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return wall - Math.floor(at / 1000) * 1000;
}
