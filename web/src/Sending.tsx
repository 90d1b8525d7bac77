// Sending from Threadline: the capability URL on the Incoming tab, and a message's send status.
import { useState } from "react";
import { api, errorMessage } from "./api.js";
import type { Message, SendUrl, Source } from "./types.js";
import { Alert, CopyButton, formatDateTime, useLoad, useTimezone } from "./ui.js";

/** Each source as people know it. */
export const SOURCE_NAMES: Record<Source, string> = {
  api: "API",
  cloud_api: "WhatsApp Cloud API",
  waha: "WAHA",
  evolution: "Evolution API",
};

/** What sending from Threadline does for an account of each source: said in the composer, before anyone sends. */
export function sendingPath(source: Source | undefined): string {
  if (source === "api")
    return "This account's source is the API: the message is recorded in Threadline and sent to your webhooks, not to WhatsApp (your own integration delivers it).";
  if (source === undefined)
    return "The message is sent to WhatsApp through the account's source, then to your webhooks.";
  return `The message goes to WhatsApp through ${SOURCE_NAMES[source]}, then to your webhooks.`;
}

/**
 * queued / sent / failed on a message sent from Threadline (nothing for the others). An account
 * whose source is the API has no WhatsApp behind it: its messages read "Recorded", never "Sent".
 */
export function SendStatusBadge({ message, source }: { message: Message; source: Source | undefined }) {
  const status = message.send_status;
  if (!status) return null;
  const kind = status === "sent" ? "ok" : status === "failed" ? "off" : "warn";
  const recorded = status === "sent" && source === "api";
  const label = recorded
    ? "Recorded"
    : status === "sent"
      ? "Sent"
      : status === "failed"
        ? "Failed"
        : message.send_error
          ? "Retrying"
          : "Queued";
  const title = recorded
    ? "Recorded and sent to your webhooks; not sent to WhatsApp (the account's source is the API)."
    : (message.send_error ?? undefined);
  return (
    <span className={`badge badge-${kind} send-status`} data-testid="send-status" data-status={status} title={title}>
      {label}
      {status === "failed" && message.send_error ? <span className="sr-only">: {message.send_error}</span> : null}
    </span>
  );
}

/**
 * The workspace's send URL: a secret URL that tools without headers (Zapier, a CRM's
 * webhook action) POST to, shown with a copy button; regenerating it stops the old one at once.
 */
export function SendUrlCard() {
  const tz = useTimezone();
  const [version, setVersion] = useState(0);
  const { data, error } = useLoad(() => api<SendUrl>("GET", "/api/v1/send-url"), [version]);
  const [fresh, setFresh] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const generate = async () => {
    if (
      data?.url &&
      !window.confirm(
        "Regenerate the send URL? The current URL stops working at once; tools that use it must get the new one.",
      )
    )
      return;
    setBusy(true);
    setFailure(null);
    try {
      const r = await api<{ url: string }>("POST", "/api/v1/send-url");
      setFresh(r.url);
      setVersion((v) => v + 1);
    } catch (err) {
      setFailure(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const shown = fresh ?? data?.url ?? null;
  return (
    <section className="card" data-testid="send-url-card">
      <h2>Send messages from other tools</h2>
      <p>
        POST <code>{"{phone, text}"}</code> (JSON or form fields; <code>account_phone</code> when the workspace has
        several accounts) to this secret URL to send a WhatsApp message without an API key. Messages are queued and sent
        one by one with a short pause; treat the URL as a password.
      </p>
      {error ? <Alert>Could not load the send URL: {error}</Alert> : null}
      {failure ? <Alert>The send URL was not generated: {failure}</Alert> : null}
      {shown ? (
        <>
          <div className="input-row">
            <input
              readOnly
              value={shown}
              aria-label="Send URL"
              className="mono"
              data-testid="send-url"
              onFocus={(e) => e.target.select()}
            />
            <CopyButton value={shown} />
          </div>
          {data?.created_at ? <p className="muted small">Generated {formatDateTime(data.created_at, tz)}.</p> : null}
        </>
      ) : data ? (
        <p className="muted" data-testid="send-url-none">
          No send URL yet.
        </p>
      ) : null}
      <button
        type="button"
        className="btn btn-secondary"
        onClick={() => void generate()}
        disabled={busy || !data}
        data-testid="send-url-generate"
      >
        {shown ? "Regenerate URL" : "Generate URL"}
      </button>
    </section>
  );
}
