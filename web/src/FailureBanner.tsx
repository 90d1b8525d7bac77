import { useEffect, useState, useSyncExternalStore } from "react";
import { api, errorMessage, listAll } from "./api.js";
import type { Webhook } from "./types.js";
import { Alert, InlineConfirm, formatDateTime, useInterval, useCan, useTimezone } from "./ui.js";
import "./failure.css";

/**
 * Failures a person cannot miss: a banner on the Webhooks page for every failing or disabled
 * webhook, a marker on the Webhooks tab of the main navigation, and the two questions around
 * the switch (switching off says what happens meanwhile; switching on asks what to do with it).
 */

/** A webhook needs attention when failing or switched off (the server's `state`). */
export const inTrouble = (w: Webhook): boolean =>
  (w.state ?? (w.enabled ? (w.consecutive_failures > 0 ? "failing" : "ok") : "disabled")) !== "ok";
const automatic = (w: Webhook) => w.disabled_reason === "consecutive_failures" || w.disabled_reason === "gone";

// What the Webhooks page last read, shared with the marker in the navigation (which polls on other pages).
let known: Webhook[] | undefined;
const listeners = new Set<() => void>();
export function reportWebhooks(list: Webhook[]): void {
  known = list;
  for (const l of listeners) l();
}
const subscribe = (cb: () => void) => {
  listeners.add(cb);
  return () => listeners.delete(cb);
};

const MARKER_POLL_MS = 15_000;

/** The dot on the Webhooks tab: some webhook is failing (amber) or switched off automatically (red). */
export function WebhooksMarker() {
  const list = useSyncExternalStore(subscribe, () => known);
  const poll = () =>
    void listAll<Webhook>("/api/v1/webhooks")
      .then(reportWebhooks)
      .catch(() => undefined);
  useEffect(poll, []);
  useInterval(poll, MARKER_POLL_MS);
  const troubled = (list ?? []).filter(inTrouble);
  if (!troubled.length) return null;
  const severe = troubled.some((w) => !w.enabled && automatic(w));
  const text = `${troubled.length} webhook${troubled.length === 1 ? " needs" : "s need"} attention`;
  return (
    <span className={`nav-marker ${severe ? "is-severe" : ""}`} data-testid="webhooks-marker" title={text}>
      <span className="sr-only">({text})</span>
    </span>
  );
}

const plural = (n: number, one: string) => `${n === 10000 ? "10,000 or more" : n} ${one}${n === 1 ? "" : "s"}`;

/** The banner of the Webhooks page: one entry per webhook in trouble, with what to do. */
export function FailureBanner({ webhooks, onChange }: { webhooks: Webhook[]; onChange: (w: Webhook) => void }) {
  const troubled = webhooks.filter(inTrouble);
  if (!troubled.length) return null;
  return (
    <section className="failure-banner" aria-label="Webhooks that need attention" data-testid="failure-banner">
      {troubled.map((w) => (
        <TroubleItem key={w.id} webhook={w} onChange={onChange} />
      ))}
    </section>
  );
}

function TroubleItem({ webhook: w, onChange }: { webhook: Webhook; onChange: (w: Webhook) => void }) {
  const tz = useTimezone();
  const [asking, setAsking] = useState(false);
  const canEdit = useCan("admin");
  const kind = w.enabled ? "failing" : automatic(w) ? "auto" : "manual";
  const title =
    kind === "failing"
      ? `Deliveries to ${w.url} are failing`
      : kind === "auto"
        ? `${w.url} was switched off automatically`
        : `${w.url} is switched off`;
  const why =
    kind === "failing"
      ? `${plural(w.consecutive_failures, "failed attempt")} in a row; it is retried with growing delays and switched off after 11.`
      : w.disabled_reason === "gone"
        ? "The receiver answered 410 Gone: the endpoint says it no longer exists."
        : kind === "auto"
          ? `After ${plural(w.consecutive_failures, "failed attempt")} in a row, spread over hours.`
          : "Switched off by a user.";
  const pending = w.pending_messages ?? 0;
  return (
    <div
      className={`trouble trouble-${kind}`}
      role={kind === "auto" ? "alert" : "status"}
      data-testid="failure-item"
      data-webhook-id={w.id}
      data-kind={kind}
    >
      <p className="trouble-title">
        <span
          className={`badge ${kind === "failing" ? "badge-warn" : kind === "auto" ? "badge-off" : "badge-neutral"}`}
        >
          {kind === "failing" ? "Failing" : kind === "auto" ? "Switched off automatically" : "Switched off"}
        </span>{" "}
        <strong className="trouble-url">{title}</strong>
      </p>
      <ul className="trouble-facts">
        <li>{why}</li>
        {w.last_error ? (
          <li data-testid="failure-last-error">
            Last error ({formatDateTime(w.last_error.at, tz)}): {w.last_error.message}{" "}
            <span className="chip">{w.last_error.code}</span>
          </li>
        ) : null}
        <li data-testid="failure-pending">
          {pending === 0
            ? "No messages wait."
            : `${plural(pending, "message")} ${pending === 1 ? "waits" : "wait"}; none is lost.`}
        </li>
        {w.next_retry_at ? (
          <li data-testid="failure-next-retry">Next retry: {formatDateTime(w.next_retry_at, tz)}.</li>
        ) : null}
        {w.owner_notified ? (
          <li data-testid="failure-notified">
            {w.owner_notified.delivered
              ? `The workspace owner (${w.owner_notified.to}) was e-mailed on ${formatDateTime(w.owner_notified.at, tz)}.`
              : `An e-mail to the workspace owner (${w.owner_notified.to}) was written on ${formatDateTime(w.owner_notified.at, tz)}; no mail server is set up, so it is kept under notifications.`}
          </li>
        ) : kind === "failing" ? (
          <li>The workspace owner is e-mailed at the 5th error in a row.</li>
        ) : null}
      </ul>
      {kind === "failing" && canEdit ? <RetryNow webhook={w} onChange={onChange} /> : null}
      {!w.enabled && canEdit ? (
        asking ? (
          <EnableQuestion
            webhook={w}
            onDone={(x) => (setAsking(false), onChange(x))}
            onCancel={() => setAsking(false)}
          />
        ) : (
          <button type="button" className="btn btn-secondary btn-small" onClick={() => setAsking(true)}>
            Switch on again…
          </button>
        )
      ) : null}
    </div>
  );
}

/** The PATCH behind both questions: which answer is being sent, and the error if it failed. */
function useSwitch<Answer extends string>(w: Webhook, onDone: (w: Webhook) => void) {
  const [busy, setBusy] = useState<Answer>();
  const [error, setError] = useState<string>();
  const patch = async (answer: Answer, body: { enabled: boolean; replay?: string }) => {
    setBusy(answer);
    setError(undefined);
    try {
      onDone(await api<Webhook>("PATCH", `/api/v1/webhooks/${w.id}`, body));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(undefined);
    }
  };
  return { busy, error, patch };
}

/**
 * Switching on again asks one question when messages wait: deliver what arrived meanwhile, or
 * skip it (the API's `replay`). With nothing waiting it only confirms, and delivers anything
 * that arrived since the count was read.
 */
export function EnableQuestion({
  webhook: w,
  onDone,
  onCancel,
}: {
  webhook: Webhook;
  onDone: (w: Webhook) => void;
  onCancel: () => void;
}) {
  const { busy, error, patch } = useSwitch<"since_disabled" | "none">(w, onDone);
  const pending = w.pending_messages ?? 0;
  const enable = (replay: "since_disabled" | "none") => patch(replay, { enabled: true, replay });
  return (
    <div className="confirm" role="group" aria-label="Switch the webhook on again" data-testid="enable-question">
      <p>
        {pending === 0
          ? "No messages wait: it delivers what arrives from now on."
          : `${plural(pending, "message")} wait${pending === 1 ? "s" : ""}. ${
              automatic(w)
                ? "What should happen to the messages that failed and those that arrived while it was off?"
                : "What should happen to the messages that arrived while it was off?"
            }`}
      </p>
      <div className="btn-row">
        <button
          type="button"
          className="btn btn-primary btn-small"
          disabled={busy !== undefined}
          onClick={() => void enable("since_disabled")}
          autoFocus
        >
          {busy === "since_disabled" ? "Switching on…" : pending === 0 ? "Switch on" : "Deliver them"}
        </button>
        {pending === 0 ? null : (
          <button
            type="button"
            className="btn btn-secondary btn-small"
            disabled={busy !== undefined}
            onClick={() => void enable("none")}
          >
            {busy === "none" ? "Switching on…" : "Skip them"}
          </button>
        )}
        <button type="button" className="btn btn-ghost btn-small" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
    </div>
  );
}

/** Switching off asks for confirmation and says what happens to messages meanwhile. */
export function DisableConfirm({
  webhook: w,
  onDone,
  onCancel,
}: {
  webhook: Webhook;
  onDone: (w: Webhook) => void;
  onCancel: () => void;
}) {
  const { busy: switching, error, patch } = useSwitch<"off">(w, onDone);
  const busy = switching !== undefined;
  const disable = () => patch("off", { enabled: false });
  return (
    <InlineConfirm
      label="Confirm switching off"
      testId="disable-confirm"
      action="Switch off"
      busyAction="Switching off…"
      busy={busy}
      onConfirm={() => void disable()}
      onCancel={onCancel}
      error={error}
    >
      <p>
        Switch off deliveries to {w.url}? Messages that arrive while it is off are kept, not sent
        {w.aggregation !== "none" ? " (the open bundles go out now)" : ""}. When you switch it on again, you choose:
        deliver them, or skip them.
      </p>
    </InlineConfirm>
  );
}

/** "Retry now": a failing webhook tries what waits at once instead of at its next retry. */
function RetryNow({ webhook: w, onChange }: { webhook: Webhook; onChange: (w: Webhook) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const retry = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api("POST", `/api/v1/webhooks/${encodeURIComponent(w.id)}/retry`);
      // The attempt takes a moment: read the webhook again once it had the time to answer.
      await new Promise((r) => setTimeout(r, 1500));
      onChange(await api<Webhook>("GET", `/api/v1/webhooks/${encodeURIComponent(w.id)}`));
    } catch (err) {
      setError(`Not retried: ${errorMessage(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className="btn btn-secondary btn-small"
        onClick={() => void retry()}
        disabled={busy}
        data-testid="retry-now"
      >
        {busy ? "Retrying…" : "Retry now"}
      </button>
      {error ? <Alert>{error}</Alert> : null}
    </>
  );
}
