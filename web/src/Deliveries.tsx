import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { api, errorMessage, fieldOf } from "./api.js";
import { dayStartIn, nextDay } from "./days.js";
import type { Delivery, Webhook } from "./types.js";
import {
  Alert,
  CopyButton,
  FieldError,
  Loading,
  ModalDialog,
  formatRelative,
  useLoad,
  useCan,
  useTimezone,
} from "./ui.js";
import "./deliveries.css";

/**
 * A webhook's deliveries: the log (filterable by status, chat and date) and the dialog that
 * opens one attempt (payload, headers, response, error, next retry) and sends it again.
 */

/** Which attempt to open: the one an activity row or a log entry names. */
export interface DeliveryRef {
  deliveryId: string;
  requestId?: string;
}

const deliveriesPath = (w: Pick<Webhook, "id">, query = "") =>
  `/api/v1/webhooks/${encodeURIComponent(w.id)}/deliveries${query}`;

/** A time to the second, with its zone named (the workspace's, else the browser's). */
function formatAt(iso: string | null | undefined, tz: string | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const zone = tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium", timeZone: zone }).format(d)} (${zone})`;
}

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The chat a payload is about, by name (message and bundle payloads both carry `chat`). */
function chatName(d: Delivery): string | undefined {
  try {
    return (JSON.parse(d.request.body) as { chat?: { full_name?: string } }).chat?.full_name || undefined;
  } catch {
    return undefined;
  }
}

function outcome(d: Delivery): string {
  if (d.response) return `HTTP ${d.response.status}`;
  return d.error?.code ?? "no answer";
}

/**
 * The dialog of one webhook's deliveries, opened from anywhere on its card. `changed` runs
 * after a resend (the activity, chart and log show the new attempt).
 */
export function useDeliveryDialog(webhook: Webhook, changed: () => void) {
  const [ref, setRef] = useState<DeliveryRef | null>(null);
  const [version, setVersion] = useState(0);
  const opener = useRef<HTMLElement | null>(null);
  const open = (r: DeliveryRef) => {
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setRef(r);
  };
  const close = () => {
    setRef(null);
    // Focus goes back to what opened the dialog, or to its successor when the list it was in
    // was redrawn meanwhile (same `data-focus-key`).
    window.setTimeout(() => {
      const el = opener.current;
      const key = el?.dataset.focusKey;
      const again = el?.isConnected
        ? el
        : key
          ? document.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`)
          : null;
      again?.focus();
    }, 0);
  };
  const dialog = ref ? (
    <DeliveryDialog
      webhook={webhook}
      target={ref}
      onClose={close}
      onResent={() => {
        setVersion((v) => v + 1);
        changed();
      }}
    />
  ) : null;
  return { open, dialog, version };
}

function DeliveryDialog({
  webhook,
  target,
  onClose,
  onResent,
}: {
  webhook: Webhook;
  target: DeliveryRef;
  onClose: () => void;
  onResent: () => void;
}) {
  const tz = useTimezone();
  const [shown, setShown] = useState<Delivery>();
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const canEdit = useCan("admin");
  const [resent, setResent] = useState<Delivery>();

  useEffect(() => {
    let live = true;
    api<{ items: Delivery[] }>("GET", deliveriesPath(webhook))
      .then((r) => {
        if (!live) return;
        const items = r.items ?? [];
        const found =
          (target.requestId && items.find((d) => d.request_id === target.requestId)) ||
          items.find((d) => d.delivery_id === target.deliveryId);
        if (found) setShown(found);
        else setMissing(true);
      })
      .catch((e) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [webhook.id, target.deliveryId, target.requestId]);

  const resend = async () => {
    if (!shown) return;
    setBusy(true);
    setError(undefined);
    setResent(undefined);
    try {
      const d = await api<Delivery>(
        "POST",
        `${deliveriesPath(webhook)}/${encodeURIComponent(shown.delivery_id)}/resend`,
      );
      setShown(d);
      setResent(d);
      onResent();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <ModalDialog
      title={`Delivery${shown ? ` · attempt ${shown.attempt}` : ""}`}
      testId="delivery-dialog"
      onClose={onClose}
      headExtra={
        <button type="button" className="btn btn-secondary btn-small" onClick={onClose} autoFocus>
          Close
        </button>
      }
    >
      {!shown && !missing && !error ? <Loading label="Loading the delivery…" /> : null}
      {missing ? (
        <Alert kind="info">This delivery is no longer in the log: only the 100 most recent requests are kept.</Alert>
      ) : null}
      {shown ? (
        <>
          <p className="delivery-id">
            <code>{shown.delivery_id}</code> {shown.test ? <span className="chip">Test event</span> : null}{" "}
            {shown.resend ? <span className="chip">Resent by hand</span> : null}
          </p>
          <dl className="delivery-facts">
            <Fact label="Status">
              <span
                className={`badge ${shown.status === "succeeded" ? "badge-ok" : "badge-fail"}`}
                data-testid="delivery-status"
              >
                {shown.status === "succeeded" ? "Succeeded" : "Failed"}
              </span>
            </Fact>
            <Fact label="Response">{shown.response ? `HTTP ${shown.response.status}` : "No answer"}</Fact>
            <Fact label="Attempt">{shown.attempt}</Fact>
            <Fact label="Sent">{formatAt(shown.at, tz)}</Fact>
            <Fact label="Duration">{shown.duration_ms} ms</Fact>
            {chatName(shown) ? <Fact label="Chat">{chatName(shown)}</Fact> : null}
            {shown.error ? (
              <Fact label="Error">
                <code>{shown.error.code}</code> {shown.error.message}
              </Fact>
            ) : null}
            {shown.next_retry_at ? (
              <Fact label="Next retry">
                {formatAt(shown.next_retry_at, tz)} ·{" "}
                {Date.parse(shown.next_retry_at) <= Date.now() ? "due now" : formatRelative(shown.next_retry_at, tz)}
              </Fact>
            ) : null}
          </dl>
          {canEdit ? (
            <div className="btn-row">
              <button type="button" className="btn btn-primary" onClick={() => void resend()} disabled={busy}>
                {busy ? "Resending…" : "Resend"}
              </button>
              <span className="hint">
                Sends this payload again now with the same webhook-id, signed with the current secret.
              </span>
            </div>
          ) : null}
          {resent ? (
            <Alert kind={resent.status === "succeeded" ? "success" : "error"} testId="resend-result">
              Resent as attempt {resent.attempt}:{" "}
              {resent.status === "succeeded"
                ? `delivered (${outcome(resent)})`
                : `failed (${resent.error?.message ?? outcome(resent)})`}
              .
            </Alert>
          ) : null}
          {error ? <Alert>{error}</Alert> : null}

          <section className="delivery-section" aria-label="Payload sent">
            <div className="delivery-section-head">
              <h3>Payload sent</h3>
              <CopyButton value={pretty(shown.request.body)} label="Copy payload" />
            </div>
            <pre className="mono delivery-pre" data-testid="delivery-payload">
              {pretty(shown.request.body)}
            </pre>
          </section>
          <section className="delivery-section" aria-label="Request headers">
            <h3>Request</h3>
            <p className="small">
              POST <code className="break">{shown.request.url}</code>
            </p>
            <Headers headers={shown.request.headers} caption="Request headers" />
          </section>
          <section className="delivery-section" aria-label="Response">
            <h3>Response</h3>
            {shown.response ? (
              <>
                <p className="small">HTTP {shown.response.status}</p>
                <Headers headers={shown.response.headers} caption="Response headers" />
                <pre className="mono delivery-pre" data-testid="delivery-response-body">
                  {shown.response.body ? pretty(shown.response.body) : "(empty body)"}
                </pre>
              </>
            ) : (
              <p className="muted small">The receiver did not answer{shown.error ? `: ${shown.error.message}` : "."}</p>
            )}
          </section>
        </>
      ) : null}
      {error && !shown ? <Alert>{error}</Alert> : null}
    </ModalDialog>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="delivery-fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Headers({ headers, caption }: { headers: Record<string, string> | undefined; caption: string }) {
  const entries = Object.entries(headers ?? {});
  if (!entries.length) return <p className="muted small">No headers.</p>;
  return (
    <table className="delivery-headers">
      <caption className="sr-only">{caption}</caption>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className="mono break">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface Filters {
  status: "" | "succeeded" | "failed";
  chat: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { status: "", chat: "", from: "", to: "" };

/** The API query of the filters; days are days of `zone` (the workspace's). */
function queryOf(f: Filters, zone: string): string {
  const q = new URLSearchParams();
  if (f.status) q.set("status", f.status);
  if (f.chat) q.set("chat_id", f.chat);
  if (f.from) q.set("since", dayStartIn(f.from, zone));
  // A whole day: until the start of the next one.
  if (f.to) q.set("until", dayStartIn(nextDay(f.to), zone));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The webhook's delivery log: a disclosure on its card, filterable; each entry opens. */
export function DeliveryLog({
  webhook,
  onOpen,
  version,
}: {
  webhook: Webhook;
  onOpen: (r: DeliveryRef) => void;
  version: number;
}) {
  const [expanded, setExpanded] = useState(false);
  const panelId = useId();
  return (
    <div className="delivery-log">
      <button
        type="button"
        className="btn btn-secondary btn-small"
        aria-expanded={expanded}
        aria-controls={panelId}
        onClick={() => setExpanded((e) => !e)}
      >
        {expanded ? "Hide delivery log" : "Show delivery log"}
      </button>
      <div id={panelId} hidden={!expanded}>
        {expanded ? <DeliveryLogPanel webhook={webhook} onOpen={onOpen} version={version} /> : null}
      </div>
    </div>
  );
}

function DeliveryLogPanel({
  webhook,
  onOpen,
  version,
}: {
  webhook: Webhook;
  onOpen: (r: DeliveryRef) => void;
  version: number;
}) {
  const tz = useTimezone();
  const zone = tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const id = useId();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  // Every chat in the kept log, for the chat filter (names from the payloads).
  const all = useLoad(
    () => api<{ items: Delivery[] }>("GET", deliveriesPath(webhook)).then((r) => r.items ?? []),
    [webhook.id, version],
  );
  const [fieldError, setFieldError] = useState<{ field: string; message: string }>();
  const shown = useLoad(async () => {
    setFieldError(undefined);
    try {
      return (await api<{ items: Delivery[] }>("GET", deliveriesPath(webhook, queryOf(filters, zone)))).items ?? [];
    } catch (e) {
      const field = fieldOf(e, ["status", "chat_id", "since", "until"]);
      if (field) setFieldError({ field, message: errorMessage(e) });
      throw e;
    }
  }, [webhook.id, filters, zone, version]);

  const chats = new Map<string, string>();
  for (const d of all.data ?? [])
    if (d.chat_id && !chats.has(d.chat_id)) chats.set(d.chat_id, chatName(d) ?? `Chat ${d.chat_id}`);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
  };
  const errorFor = (field: string) => (fieldError?.field === field ? fieldError.message : undefined);

  return (
    <div className="delivery-log-panel">
      <form className="delivery-filters" onSubmit={apply} aria-label="Filter deliveries" noValidate>
        <div className="field">
          <label htmlFor={`${id}-status`}>Status</label>
          <select
            id={`${id}-status`}
            value={draft.status}
            onChange={(e) => setDraft({ ...draft, status: e.target.value as Filters["status"] })}
          >
            <option value="">All</option>
            <option value="succeeded">Succeeded</option>
            <option value="failed">Failed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-chat`}>Chat</label>
          <select id={`${id}-chat`} value={draft.chat} onChange={(e) => setDraft({ ...draft, chat: e.target.value })}>
            <option value="">All chats</option>
            {[...chats].map(([chatId, name]) => (
              <option key={chatId} value={chatId}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-from`}>From (day, {zone})</label>
          <input
            id={`${id}-from`}
            type="date"
            value={draft.from}
            onChange={(e) => setDraft({ ...draft, from: e.target.value })}
            aria-invalid={errorFor("since") ? true : undefined}
            aria-describedby={errorFor("since") ? `${id}-from-error` : undefined}
          />
          <FieldError id={`${id}-from-error`} message={errorFor("since")} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>To (day, {zone})</label>
          <input
            id={`${id}-to`}
            type="date"
            value={draft.to}
            onChange={(e) => setDraft({ ...draft, to: e.target.value })}
            aria-invalid={errorFor("until") ? true : undefined}
            aria-describedby={errorFor("until") ? `${id}-to-error` : undefined}
          />
          <FieldError id={`${id}-to-error`} message={errorFor("until")} />
        </div>
        <div className="field field-action">
          <button type="submit" className="btn btn-secondary btn-small">
            Apply filters
          </button>
        </div>
      </form>
      {shown.error && !fieldError ? <Alert>Could not load the deliveries: {shown.error}</Alert> : null}
      {shown.data === undefined && !shown.error ? <Loading label="Loading deliveries…" /> : null}
      {shown.data && shown.data.length === 0 ? <p className="muted small">No deliveries match.</p> : null}
      {shown.data && shown.data.length > 0 ? (
        <ul className="delivery-rows" aria-label="Deliveries" data-testid="delivery-log">
          {shown.data.map((d) => (
            <li key={d.request_id}>
              <button
                type="button"
                className="delivery-row"
                data-focus-key={`log-${d.request_id}`}
                onClick={() => onOpen({ deliveryId: d.delivery_id, requestId: d.request_id })}
              >
                <span className={`badge ${d.status === "succeeded" ? "badge-ok" : "badge-fail"}`}>
                  {d.status === "succeeded" ? "Succeeded" : "Failed"}
                </span>
                <span className="delivery-row-main">
                  {chatName(d) ?? d.delivery_id} · attempt {d.attempt} · {outcome(d)}
                  {d.test ? <span className="chip">Test</span> : null}
                  {d.resend ? <span className="chip">Resent</span> : null}
                </span>
                <span className="delivery-row-time">{formatAt(d.at, tz)}</span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
