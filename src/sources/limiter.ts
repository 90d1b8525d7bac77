/**
 * The bound on gateway calls made while receiving (group info, hidden-id lookups, status
 * checks), per account: a few in flight, a short queue behind them, the rest skipped (the
 * caller keeps the raw id). One body naming 5,000 new groups makes at most `inFlight`
 * requests to the gateway at a time and `inFlight + queue` in all; other accounts (and
 * workspaces) never wait behind it. An account holds an entry only while it has calls.
 */
export const GATEWAY_CALLS_IN_FLIGHT = 4;
export const GATEWAY_CALLS_QUEUED = 32;

interface Waiting {
  start(): void;
  skip(): void;
  startBy: number;
}

interface Lane {
  running: number;
  queue: Waiting[];
}

export class AccountLimiter {
  private lanes = new Map<string, Lane>();

  constructor(
    private readonly inFlight = GATEWAY_CALLS_IN_FLIGHT,
    private readonly queued = GATEWAY_CALLS_QUEUED,
  ) {}

  /**
   * Runs `call` for `accountId` when one of its places is free, or resolves undefined without
   * running it: the queue is full, or no place freed before `startBy` (real time, ms). A call
   * that throws resolves undefined too: what it would have told is a nicety.
   */
  run<T>(accountId: string, call: () => Promise<T>, startBy: number): Promise<T | undefined> {
    let lane = this.lanes.get(accountId);
    if (!lane) this.lanes.set(accountId, (lane = { running: 0, queue: [] }));
    const l = lane;
    return new Promise<T | undefined>((resolve) => {
      const start = () => {
        l.running++;
        call()
          .then(resolve, () => resolve(undefined))
          .finally(() => {
            l.running--;
            this.next(accountId, l);
          });
      };
      if (l.running < this.inFlight) start();
      else if (l.queue.length < this.queued) l.queue.push({ start, skip: () => resolve(undefined), startBy });
      else {
        resolve(undefined);
        if (l.running === 0 && l.queue.length === 0) this.lanes.delete(accountId);
      }
    });
  }

  private next(accountId: string, l: Lane): void {
    while (l.running < this.inFlight && l.queue.length > 0) {
      const w = l.queue.shift()!;
      if (Date.now() > w.startBy) w.skip();
      else w.start();
    }
    if (l.running === 0 && l.queue.length === 0) this.lanes.delete(accountId);
  }

  /** Accounts with calls in flight or queued (tests, and the idle promise). */
  get busyAccounts(): number {
    return this.lanes.size;
  }
}

/** `promise`'s value, or undefined once `ms` have passed (the promise goes on; its result is then another's to use). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
