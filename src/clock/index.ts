/**
 * The one source of "now". In test-clock mode `advance` moves it forward and
 * wakes every timer that became due, so retries and window closes run at once.
 */
export class Clock {
  private offsetMs = 0;
  private timers = new Set<ClockTimer>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): number {
    this.offsetMs += ms;
    for (const t of [...this.timers]) t.reschedule();
    return this.now();
  }

  /** Runs `fn` once the clock reaches `at` (real time or an advance). */
  at(at: number, fn: () => void): ClockTimer {
    const t = new ClockTimer(this, at, fn);
    this.timers.add(t);
    t.reschedule();
    return t;
  }

  /** @internal */
  forget(t: ClockTimer): void {
    this.timers.delete(t);
  }
}

export class ClockTimer {
  private handle: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private clock: Clock,
    readonly dueAt: number,
    private fn: () => void,
  ) {}

  reschedule(): void {
    if (this.done) return;
    if (this.handle) clearTimeout(this.handle);
    // Long timers are re-armed in steps so a clock advance is never missed by much.
    const wait = Math.max(0, Math.min(this.dueAt - this.clock.now(), 60_000));
    this.handle = setTimeout(() => {
      if (this.clock.now() >= this.dueAt) this.fire();
      else this.reschedule();
    }, wait);
    this.handle.unref();
  }

  private fire(): void {
    this.cancel();
    this.fn();
  }

  cancel(): void {
    this.done = true;
    if (this.handle) clearTimeout(this.handle);
    this.clock.forget(this);
  }
}
