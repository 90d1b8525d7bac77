/**
 * Aggregation windows: tumbling, aligned to the workspace's wall clock. Pure arithmetic on
 * instants (ms since the epoch) and an IANA time zone; unit-tested across daylight-saving
 * changes in test/webhooks/windows.dst.test.ts.
 *
 * A window of `hours` ends at the next *grid boundary in local time*: the first instant
 * after which the wall clock shows a multiple of `hours` since local midnight.
 * - Spring forward: a boundary the clock jumps over (02:00 in a zone going 02:00 → 03:00,
 *   or midnight in a zone going 00:00 → 01:00) is the instant of the jump, so a 1h
 *   window is never longer than an hour of real time there.
 * - Fall back: when the clock goes back onto a boundary (03:00 → 02:00), the repeated span is
 *   a window of its own if it is at least a whole window long (a 1h window is never 2 h);
 *   shorter repeats stay inside the window they fall in (a 24h window ends at local
 *   midnight, once).
 * Every zone offset and transition in use is a multiple of 15 minutes, so boundaries
 * are found on the 15-minute grid of UTC.
 */

/** Window lengths of the aggregated settings, in hours: the one list of aggregation values. */
export const WINDOW_HOURS = { "1h": 1, "6h": 6, "12h": 12, "24h": 24 } as const;
export type WindowSetting = keyof typeof WINDOW_HOURS;
/** Every `aggregation` a webhook may have: `none`, then the windows. */
export const AGGREGATIONS = ["none", ...(Object.keys(WINDOW_HOURS) as WindowSetting[])] as const;
export type Aggregation = "none" | WindowSetting;

/** How people read each aggregation: the UI's choices and the activity's "Don't aggregate → Every hour". */
export const AGGREGATION_LABELS: Record<Aggregation, string> = {
  none: "Don't aggregate",
  "1h": "Every hour",
  "6h": "Every 6 hours",
  "12h": "Every 12 hours",
  "24h": "Every 24 hours",
};

export function aggregationLabel(v: string): string {
  return isAggregation(v) ? AGGREGATION_LABELS[v] : v;
}

export function isAggregation(v: string): v is Aggregation {
  return (AGGREGATIONS as readonly string[]).includes(v);
}

/** The window length of an aggregation, in hours (undefined for `none` and unknown values). */
export function windowHours(aggregation: string): number | undefined {
  return (WINDOW_HOURS as Record<string, number>)[aggregation];
}

const STEP = 15 * 60_000;
const HOUR = 3600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock at `ms` in `timeZone`, as if it were UTC (ms since the epoch, whole seconds). */
export function localTime(ms: number, timeZone: string): number {
  const w = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  for (const p of formatter(timeZone).formatToParts(new Date(ms)))
    if (p.type in w) w[p.type as keyof typeof w] = Number(p.value);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour % 24, w.minute, w.second);
}

// The wall clock of instants on the 15-minute grid, per zone: finding one window end walks up
// to a day of steps through formatToParts, and consecutive windows walk the same steps.
const gridTimes = new Map<string, Map<number, number>>();
function gridLocalTime(u: number, timeZone: string): number {
  let zone = gridTimes.get(timeZone);
  if (!zone) gridTimes.set(timeZone, (zone = new Map()));
  let local = zone.get(u);
  if (local === undefined) {
    if (zone.size >= 20_000) zone.clear();
    local = localTime(u, timeZone);
    zone.set(u, local);
  }
  return local;
}

/**
 * Whether a window of `size` ms ends (and the next begins) at an instant on the 15-minute
 * grid of UTC whose wall clock is `at`, `before` being the wall clock 15 minutes earlier.
 */
function isBoundary(before: number, at: number, size: number): boolean {
  const jump = at - before - STEP;
  // The usual case, and a clock that jumped forward over or onto a boundary.
  if (jump >= 0) return Math.floor(at / size) > Math.floor(before / size);
  // The clock went back by -jump: onto a boundary, after a whole window's worth.
  return at % size === 0 && -jump >= size;
}

/** Enough steps for any window of up to 24 h plus the largest transition. */
const MAX_STEPS = (24 + 4) * 4;

/** The end of the `hours` window containing `t`: the first boundary after `t`. */
export function windowEndAfter(t: number, timeZone: string, hours: number): number {
  const size = hours * HOUR;
  let u = Math.floor(t / STEP) * STEP + STEP;
  let before = gridLocalTime(u - STEP, timeZone);
  for (let i = 0; i < MAX_STEPS; i++, u += STEP) {
    const at = gridLocalTime(u, timeZone);
    if (isBoundary(before, at, size)) return u;
    before = at;
  }
  return t + size;
}

/** The start of the `hours` window containing `t`: the last boundary at or before `t`. */
export function windowStartOf(t: number, timeZone: string, hours: number): number {
  const size = hours * HOUR;
  let u = Math.floor(t / STEP) * STEP;
  let at = gridLocalTime(u, timeZone);
  for (let i = 0; i < MAX_STEPS; i++, u -= STEP) {
    const before = gridLocalTime(u - STEP, timeZone);
    if (isBoundary(before, at, size)) return u;
    at = before;
  }
  return t - size;
}
