import type { Clock, ClockTimer } from "./index.js";

/** Something waiting on the scheduler; `cancel` drops it. */
export interface Scheduled {
  readonly dueAt: number;
  cancel(): void;
}

class Entry implements Scheduled {
  cancelled = false;
  constructor(
    private owner: Scheduler,
    readonly dueAt: number,
    readonly fn: () => void,
    readonly order: number,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.owner.dropped();
  }
}

/**
 * Every retry and window end of a process on one timer: a heap ordered by due time, and one
 * Clock timer for its earliest entry (so the test clock fires them as it does any timer).
 * Thousands of webhooks waiting cost a heap entry each, not a timer each.
 */
export class Scheduler {
  private heap: Entry[] = [];
  private timer: ClockTimer | undefined;
  private cancelled = 0;
  private made = 0;

  constructor(
    private clock: Clock,
    /** A callback that threw: logged; the others still run. */
    private onError: (err: unknown) => void,
  ) {}

  /** Runs `fn` once the clock reaches `dueAt`. */
  at(dueAt: number, fn: () => void): Scheduled {
    const e = new Entry(this, dueAt, fn, this.made++);
    this.push(e);
    this.arm();
    return e;
  }

  /** Entries waiting (cancelled ones not yet swept included): for tests and the bench. */
  get size(): number {
    return this.heap.length - this.cancelled;
  }

  /** @internal An entry was cancelled: sweep when they are half the heap, so memory stays bounded. */
  dropped(): void {
    this.cancelled++;
    if (this.cancelled > 64 && this.cancelled * 2 > this.heap.length) {
      const live = this.heap.filter((e) => !e.cancelled);
      this.heap = [];
      this.cancelled = 0;
      for (const e of live) this.push(e);
    }
    this.arm();
  }

  /** Stops the timer (shutdown); what waits never runs. */
  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.heap = [];
    this.cancelled = 0;
  }

  private arm(): void {
    while (this.heap[0]?.cancelled) {
      this.pop();
      this.cancelled--;
    }
    const first = this.heap[0];
    if (!first) {
      this.timer?.cancel();
      this.timer = undefined;
      return;
    }
    if (this.timer?.dueAt === first.dueAt) return;
    this.timer?.cancel();
    this.timer = this.clock.at(first.dueAt, () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.heap[0] && this.heap[0].dueAt <= now) {
      const e = this.pop()!;
      if (e.cancelled) {
        this.cancelled--;
        continue;
      }
      e.cancelled = true;
      // One webhook's error must not stop the others' timers.
      try {
        e.fn();
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.order < b.order);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
