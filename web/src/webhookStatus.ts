import type { Webhook } from "./types.js";

/** A webhook's state in words, as its card and the overview show it. */
export function statusOf(w: Webhook): { label: string; detail: string; tone: "ok" | "warn" | "off" } {
  if (w.enabled) {
    const n = w.consecutive_failures;
    return n > 0
      ? { label: "Failing", detail: `${n} consecutive error${n === 1 ? "" : "s"}`, tone: "warn" }
      : { label: "Active", detail: "0 consecutive errors", tone: "ok" };
  }
  if (w.disabled_reason === "consecutive_failures") {
    return { label: "Disabled", detail: `after ${w.consecutive_failures} consecutive failures`, tone: "off" };
  }
  if (w.disabled_reason === "gone") return { label: "Disabled", detail: "the receiver answered 410 Gone", tone: "off" };
  return { label: "Disabled", detail: "manually", tone: "off" };
}
