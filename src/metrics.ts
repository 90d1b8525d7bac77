import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The process's Prometheus metrics, every one of them; one registry per app so tests can run several. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Attempts are counted in plain numbers and handed to prom-client when scraped (or every
  // 1,000): a labelled inc and an observe per delivery showed in a delivery's profile (BENCHMARKS.md, "Behind choices in the code").
  const outcomes = new Map<string, number>();
  let durations: number[] = [];
  const publish = () => {
    for (const [outcome, n] of outcomes) attempts.inc({ outcome }, n);
    outcomes.clear();
    for (const s of durations) attemptSeconds.observe(s);
    durations = [];
  };
  const attempts = new Counter({
    name: "threadline_delivery_attempts_total",
    help: "Webhook delivery attempts, by outcome",
    labelNames: ["outcome"],
    registers: [registry],
    collect: publish,
  });
  const attemptSeconds = new Histogram({
    name: "threadline_delivery_duration_seconds",
    help: "Duration of webhook delivery attempts",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
    collect: publish,
  });
  // The webhooks this process holds and the processes delivering, read from the manager when scraped.
  let shares = () => ({ held: 0, live: 1 });
  new Gauge({
    name: "threadline_webhook_leases_held",
    help: "Webhooks whose lease this process holds (it delivers them)",
    registers: [registry],
    collect() {
      this.set(shares().held);
    },
  });
  new Gauge({
    name: "threadline_processes_live",
    help: "Threadline processes delivering from this database (a recent heartbeat)",
    registers: [registry],
    collect() {
      this.set(shares().live);
    },
  });
  // Accounts whose gateway session is disconnected, counted in the database when scraped (accounts/connection.ts).
  let disconnected = async () => 0;
  new Gauge({
    name: "threadline_accounts_disconnected",
    help: "WhatsApp accounts whose gateway session is disconnected",
    registers: [registry],
    async collect() {
      this.set(await disconnected());
    },
  });
  return {
    registry,
    /** Where the share gauges read from (the delivery manager). */
    shares(read: () => { held: number; live: number }): void {
      shares = read;
    },
    /** Where the disconnected-accounts gauge reads from (the connection watch). */
    disconnected(read: () => Promise<number>): void {
      disconnected = read;
    },
    ingested: new Counter({
      name: "threadline_ingested_messages_total",
      help: "Messages ingested, by result",
      labelNames: ["status"],
      registers: [registry],
    }),
    /** One delivery attempt: `outcome` is `success` or a delivery error code, lower-cased. */
    attempted(outcome: string, seconds: number): void {
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      durations.push(seconds);
      if (durations.length >= 1000) publish();
    },
    unrecognised: new Counter({
      name: "threadline_inbound_unrecognised_total",
      help: "Authenticated gateway requests (or parts of them) stored as unrecognised inbound events, by source",
      labelNames: ["source"],
      registers: [registry],
    }),
    /** A message sent through its account's gateway: `sent`, `retried` (the gateway was down) or `failed`. */
    sends: new Counter({
      name: "threadline_sends_total",
      help: "Gateway send attempts of queued messages, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    disabled: new Counter({
      name: "threadline_webhooks_disabled_total",
      help: "Webhooks disabled automatically",
      registers: [registry],
    }),
    /** Two chats of one contact made one (a hidden @lid id's chat and its phone's: ingest/identity.ts). */
    chatsMerged: new Counter({
      name: "threadline_chats_merged_total",
      help: "Chats merged into another chat of the same contact",
      registers: [registry],
    }),
    http: new Histogram({
      name: "threadline_http_request_duration_seconds",
      help: "API request duration",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
