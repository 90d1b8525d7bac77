import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { api, errorMessage, fieldOf, listAll } from "./api.js";
import { AGGREGATION_LABELS } from "../../src/webhooks/windows.js";
import { DeliveryChart } from "./Chart.js";
import { ReplayControl } from "./Replay.js";
import { DeliveryLog, useDeliveryDialog } from "./Deliveries.js";
import { EndpointList, NextBundle } from "./WebhookOverview.js";
import { statusOf } from "./webhookStatus.js";
import { SOURCE_NAMES, SendUrlCard } from "./Sending.js";
import { navigate } from "./router.js";
import type {
  Account,
  ActivityItem,
  Aggregation,
  InboundEvent,
  List,
  LogEntry,
  StatsBucket,
  Webhook,
} from "./types.js";
import {
  Alert,
  CopyButton,
  Empty,
  FieldError,
  InlineConfirm,
  Link,
  Loading,
  formatDateTime,
  formatRelative,
  useDocumentTitle,
  useInterval,
  useLoad,
  useCan,
  useTimezone,
} from "./ui.js";
import { DisableConfirm, EnableQuestion, FailureBanner, reportWebhooks } from "./FailureBanner.js";
import { DigestPreview, SamplePayload } from "./SamplePayload.js";
import { judgeTarget } from "./TargetCheck.js";
import { WebhookFilterEditor } from "./WebhookFilter.js";

export const AGGREGATIONS: readonly { value: Aggregation; label: string }[] = (
  Object.keys(AGGREGATION_LABELS) as Aggregation[]
).map((value) => ({
  value,
  label: AGGREGATION_LABELS[value],
}));

const POLL_MS = 5000;

export function WebhooksPage({ tab }: { tab: "outgoing" | "incoming" }) {
  useDocumentTitle(tab === "outgoing" ? "Outgoing webhooks" : "Incoming webhooks");
  const tabs = [
    { id: "outgoing", label: "Outgoing", to: "/webhooks" },
    { id: "incoming", label: "Incoming", to: "/webhooks/incoming" },
  ] as const;
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const next = tab === "outgoing" ? tabs[1] : tabs[0];
    navigate(next.to);
    window.setTimeout(() => document.getElementById(`tab-${next.id}`)?.focus(), 0);
  };
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Webhooks</h1>
          <p className="muted">Every WhatsApp message of this workspace is sent to each enabled outgoing webhook.</p>
        </div>
      </div>
      <div role="tablist" aria-label="Webhook direction" className="tabs" onKeyDown={onKey}>
        {tabs.map((t) => (
          <button
            key={t.id}
            id={`tab-${t.id}`}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            className="tab"
            onClick={() => navigate(t.to)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel">
        {tab === "outgoing" ? <OutgoingTab /> : <IncomingTab />}
      </div>
    </div>
  );
}

function OutgoingTab() {
  const { data, error, loading, reload, setData } = useLoad(() => listAll<Webhook>("/api/v1/webhooks"), []);
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const canEdit = useCan("admin");
  const webhooks = data ?? [];
  useEffect(() => {
    if (data) reportWebhooks(data);
  }, [data]);

  const update = (w: Webhook) => setData((list) => (list ?? []).map((x) => (x.id === w.id ? { ...x, ...w } : x)));
  const remember = (id: string, secret: string | undefined) =>
    setSecrets((s) => {
      const copy = { ...s };
      if (secret) copy[id] = secret;
      else delete copy[id];
      return copy;
    });

  return (
    <>
      <FailureBanner webhooks={webhooks} onChange={update} />
      <EndpointList webhooks={webhooks} />
      {canEdit ? (
        <CreateWebhook
          onCreated={(w) => {
            setData((list) => [w, ...(list ?? []).filter((x) => x.id !== w.id)]);
            remember(w.id, w.secret);
          }}
        />
      ) : (
        <Alert kind="info" testId="read-only">
          You see the webhooks read-only: changing them needs the admin role.
        </Alert>
      )}
      {loading && !data ? <Loading label="Loading webhooks…" /> : null}
      {error ? (
        <Alert>
          Could not load the webhooks: {error}{" "}
          <button type="button" className="btn btn-link" onClick={() => void reload()}>
            Try again
          </button>
        </Alert>
      ) : null}
      {data && webhooks.length === 0 ? (
        <Empty title="No outgoing webhooks yet">
          Add the URL of your CRM, Zapier zap or script above. Each message is POSTed to it as JSON, signed with the
          webhook's secret.
        </Empty>
      ) : null}
      <div className="webhook-list">
        {webhooks.map((w) => (
          <WebhookCard
            key={w.id}
            webhook={w}
            secret={secrets[w.id]}
            onChange={update}
            onSecret={(s) => remember(w.id, s)}
            onDeleted={() => {
              setData((list) => (list ?? []).filter((x) => x.id !== w.id));
              remember(w.id, undefined);
            }}
          />
        ))}
      </div>
    </>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (w: Webhook) => void }) {
  const [url, setUrl] = useState("");
  const [aggregation, setAggregation] = useState<Aggregation>("none");
  const [errors, setErrors] = useState<{ url?: string; aggregation?: string; form?: string }>({});
  const [warning, setWarning] = useState<{ url: string; message: string }>();
  const [busy, setBusy] = useState(false);
  const urlRef = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = url.trim();
    const problem = checkUrl(value);
    if (problem) {
      setErrors({ url: problem });
      urlRef.current?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      // The delivery rule, asked now: a blocked address is refused here, a host that does not resolve is a warning.
      const verdict = await judgeTarget(value, warning?.url);
      if (verdict.error || verdict.warning) {
        if (verdict.error) setErrors({ url: verdict.error });
        setWarning(verdict.warning ? { url: value, message: verdict.warning } : undefined);
        urlRef.current?.focus();
        return;
      }
      const w = await api<Webhook>("POST", "/api/v1/webhooks", { url: value, aggregation, enabled: true });
      onCreated(w);
      setUrl("");
      setWarning(undefined);
      setAggregation("none");
    } catch (err) {
      const f = fieldOf(err, ["url", "aggregation"]);
      setErrors(f ? { [f]: errorMessage(err) } : { form: errorMessage(err) });
      if (f === "url" || !f) urlRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card create-card" aria-labelledby="create-webhook-title">
      <h2 id="create-webhook-title">Add an outgoing webhook</h2>
      <form onSubmit={submit} noValidate className="create-form" data-testid="create-webhook-form">
        <div className="field grow">
          <label htmlFor="new-webhook-url">Webhook URL</label>
          <input
            ref={urlRef}
            id="new-webhook-url"
            type="url"
            inputMode="url"
            placeholder="https://crm.example.com/hooks/whatsapp"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={errors.url ? true : undefined}
            aria-describedby={
              errors.url ? "new-webhook-url-error" : warning?.url === url.trim() ? "new-webhook-url-warning" : undefined
            }
            autoComplete="off"
            spellCheck={false}
          />
          <FieldError id="new-webhook-url-error" message={errors.url} />
          {warning && warning.url === url.trim() ? (
            <p
              className="field-warning"
              id="new-webhook-url-warning"
              role="status"
              data-testid="new-webhook-url-warning"
            >
              {warning.message}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor="new-webhook-aggregation">Aggregation</label>
          <select
            id="new-webhook-aggregation"
            value={aggregation}
            onChange={(e) => setAggregation(e.target.value as Aggregation)}
            aria-invalid={errors.aggregation ? true : undefined}
            aria-describedby={errors.aggregation ? "new-webhook-aggregation-error" : undefined}
          >
            {AGGREGATIONS.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
          <FieldError id="new-webhook-aggregation-error" message={errors.aggregation} />
        </div>
        <div className="field field-action">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Adding…" : warning && warning.url === url.trim() ? "Add anyway" : "Add webhook"}
          </button>
        </div>
      </form>
      {errors.form ? <Alert>{errors.form}</Alert> : null}
    </section>
  );
}

function checkUrl(value: string): string | undefined {
  if (!value) return "Enter the URL that should receive the messages.";
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return "Enter a full URL, starting with https:// (or http://).";
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return "The URL must start with https:// or http://.";
  return undefined;
}

interface CardProps {
  webhook: Webhook;
  secret: string | undefined;
  onChange: (w: Webhook) => void;
  onSecret: (secret: string | undefined) => void;
  onDeleted: () => void;
}

function WebhookCard({ webhook: w, secret, onChange, onSecret, onDeleted }: CardProps) {
  const tz = useTimezone();
  const id = `wh-${w.id}`;
  const status = statusOf(w);
  // Members read webhooks; every control that changes one is an admin's (the server says 403 too).
  const canEdit = useCan("admin");

  const [urlDraft, setUrlDraft] = useState(w.url);
  const [urlError, setUrlError] = useState<string>();
  const [urlBusy, setUrlBusy] = useState(false);
  const [urlSaved, setUrlSaved] = useState(false);
  const [aggError, setAggError] = useState<string>();
  const [aggBusy, setAggBusy] = useState(false);
  const [aggSaved, setAggSaved] = useState(false);
  const [asking, setAsking] = useState<null | "enable" | "disable">(null);
  const [urlWarning, setUrlWarning] = useState<string>();
  const [confirm, setConfirm] = useState<null | "delete" | "rotate">(null);
  const [actionBusy, setActionBusy] = useState<null | "delete" | "rotate" | "reveal" | "test" | "flush">(null);
  const [actionError, setActionError] = useState<string>();
  const [testResult, setTestResult] = useState<LogEntry>();
  const [flushResult, setFlushResult] = useState<number>();

  useEffect(() => setUrlDraft(w.url), [w.url]);

  const activity = useLoad(
    () => api<{ items: ActivityItem[] }>("GET", `/api/v1/webhooks/${w.id}/activity`).then((r) => r.items ?? []),
    [w.id],
  );
  const stats = useLoad(
    () => api<{ buckets: StatsBucket[] }>("GET", `/api/v1/webhooks/${w.id}/stats`).then((r) => r.buckets ?? []),
    [w.id],
  );

  const refresh = async () => {
    void activity.reload(true);
    void stats.reload(true);
    try {
      const fresh = await api<Webhook>("GET", `/api/v1/webhooks/${w.id}`);
      onChange(stripSecret(fresh));
    } catch {
      // The next poll tries again; a deleted webhook disappears on reload.
    }
  };
  useInterval(() => void refresh(), POLL_MS);
  const delivery = useDeliveryDialog(w, () => void refresh());

  const patch = async (body: Partial<Pick<Webhook, "url" | "enabled" | "aggregation">>) => {
    const updated = await api<Webhook>("PATCH", `/api/v1/webhooks/${w.id}`, body);
    onChange(stripSecret(updated));
    void activity.reload(true);
    return updated;
  };

  /** A new action starts: what earlier ones reported is cleared. */
  const clearAlerts = () => {
    setUrlError(undefined);
    setUrlSaved(false);
    setAggError(undefined);
    setAggSaved(false);
    setActionError(undefined);
    setTestResult(undefined);
    setFlushResult(undefined);
  };

  const saveUrl = async (e: FormEvent) => {
    e.preventDefault();
    clearAlerts();
    const value = urlDraft.trim();
    const problem = checkUrl(value);
    if (problem) {
      setUrlError(problem);
      return;
    }
    setUrlBusy(true);
    setUrlError(undefined);
    setUrlSaved(false);
    try {
      const verdict = await judgeTarget(value, urlWarning === undefined ? undefined : value);
      setUrlWarning(verdict.warning);
      if (verdict.error || verdict.warning) {
        if (verdict.error) setUrlError(verdict.error);
        return;
      }
      await patch({ url: value });
      setUrlSaved(true);
    } catch (err) {
      setUrlError(errorMessage(err));
    } finally {
      setUrlBusy(false);
    }
  };

  const changeAggregation = async (value: Aggregation) => {
    const before = w.aggregation;
    onChange({ ...w, aggregation: value });
    clearAlerts();
    setAggBusy(true);
    setAggError(undefined);
    setAggSaved(false);
    try {
      await patch({ aggregation: value });
      setAggSaved(true);
    } catch (err) {
      onChange({ ...w, aggregation: before });
      setAggError(errorMessage(err));
    } finally {
      setAggBusy(false);
    }
  };

  // Either way the switch asks first (FailureBanner.tsx): what happens to messages meanwhile.
  const answered = (updated: Webhook) => {
    setAsking(null);
    onChange(stripSecret(updated));
    void activity.reload(true);
  };

  const run = async (what: "delete" | "rotate" | "reveal" | "test" | "flush") => {
    clearAlerts();
    setActionBusy(what);
    setActionError(undefined);
    try {
      if (what === "delete") {
        await api("DELETE", `/api/v1/webhooks/${w.id}`);
        onDeleted();
        return;
      }
      if (what === "rotate") {
        const r = await api<Webhook>("POST", `/api/v1/webhooks/${w.id}/rotate-secret`);
        onSecret(r.secret);
        onChange(stripSecret(r));
        setConfirm(null);
      } else if (what === "reveal") {
        const r = await api<{ secret: string }>("GET", `/api/v1/webhooks/${w.id}/secret`);
        onSecret(r.secret);
      } else if (what === "test") {
        setTestResult(undefined);
        const r = await api<LogEntry>("POST", `/api/v1/webhooks/${w.id}/test`);
        setTestResult(r);
      } else {
        setFlushResult(undefined);
        const r = await api<{ flushed: number }>("POST", `/api/v1/webhooks/${w.id}/flush`);
        setFlushResult(r.flushed ?? 0);
      }
      void refresh();
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setActionBusy(null);
    }
  };

  return (
    <section
      className={`card webhook-card ${w.enabled ? "" : "is-disabled"}`}
      aria-labelledby={`${id}-title`}
      data-testid="webhook-card"
      data-webhook-id={w.id}
    >
      <header className="webhook-head">
        <div className="webhook-title">
          <h2 id={`${id}-title`} className="url-title" title={w.url}>
            {w.url}
          </h2>
          <p className="webhook-meta">
            <span className={`badge badge-${status.tone}`} data-testid="webhook-status">
              {status.label}
            </span>
            <span className="muted" data-testid="webhook-status-detail">
              {status.detail}
            </span>
            <span className="muted dot-sep">
              {AGGREGATIONS.find((a) => a.value === w.aggregation)?.label ?? w.aggregation}
            </span>
            <span className="muted dot-sep">Created {formatDateTime(w.created_at, tz)}</span>
            {w.updated_by ? (
              <span className="muted dot-sep" data-testid="webhook-updated-by">
                Last changed by {w.updated_by.name} {formatRelative(w.updated_at, tz)}
              </span>
            ) : null}
          </p>
          <NextBundle webhook={w} tz={tz} />
        </div>
        {canEdit ? (
          <div className="switch-wrap">
            <span id={`${id}-enabled-label`} className="switch-label">
              Enabled
            </span>
            <button
              type="button"
              role="switch"
              aria-checked={w.enabled}
              aria-label={`Enabled: ${w.url}`}
              className="switch"
              aria-expanded={asking !== null}
              onClick={() => {
                clearAlerts();
                setAsking(asking ? null : w.enabled ? "disable" : "enable");
              }}
              data-testid="webhook-enabled"
            >
              <span className="switch-thumb" aria-hidden="true" />
            </button>
          </div>
        ) : null}
      </header>
      {asking === "disable" && w.enabled ? (
        <DisableConfirm webhook={w} onDone={answered} onCancel={() => setAsking(null)} />
      ) : null}
      {asking === "enable" && !w.enabled ? (
        <EnableQuestion webhook={w} onDone={answered} onCancel={() => setAsking(null)} />
      ) : null}

      {secret ? (
        <div className="secret-box" data-testid="webhook-secret">
          <div>
            <p className="secret-title">Signing secret</p>
            <p className="hint">
              Store it in your receiver now to verify the Standard Webhooks signature of each request.
            </p>
            <code className="secret-value">{secret}</code>
          </div>
          <div className="secret-actions">
            <CopyButton value={secret} label="Copy secret" className="btn btn-primary btn-small" />
            <button type="button" className="btn btn-secondary btn-small" onClick={() => onSecret(undefined)}>
              I've stored it
            </button>
          </div>
        </div>
      ) : null}

      <SamplePayload webhookId={w.id} aggregation={w.aggregation} open={secret !== undefined} />
      {w.aggregation !== "none" ? <DigestPreview webhookId={w.id} /> : null}

      <div className="webhook-grid">
        <div className="webhook-settings">
          {canEdit ? (
            <>
              <form onSubmit={saveUrl} noValidate className="inline-form">
                <div className="field grow">
                  <label htmlFor={`${id}-url`}>URL</label>
                  <div className="input-row">
                    <input
                      id={`${id}-url`}
                      type="url"
                      value={urlDraft}
                      onChange={(e) => {
                        setUrlDraft(e.target.value);
                        setUrlSaved(false);
                        setUrlWarning(undefined);
                      }}
                      aria-invalid={urlError ? true : undefined}
                      aria-describedby={urlError ? `${id}-url-error` : undefined}
                      spellCheck={false}
                      autoComplete="off"
                    />
                    <button type="submit" className="btn btn-secondary" disabled={urlBusy || urlDraft.trim() === w.url}>
                      {urlBusy ? "Saving…" : urlWarning ? "Save anyway" : "Save URL"}
                    </button>
                  </div>
                  <FieldError id={`${id}-url-error`} message={urlError} />
                  {urlWarning ? (
                    <p className="field-warning" role="status">
                      {urlWarning}
                    </p>
                  ) : null}
                  {urlSaved ? (
                    <p className="saved" role="status">
                      URL saved.
                    </p>
                  ) : null}
                </div>
              </form>

              <div className="field">
                <label htmlFor={`${id}-aggregation`}>Aggregation</label>
                <select
                  id={`${id}-aggregation`}
                  value={w.aggregation}
                  disabled={aggBusy}
                  onChange={(e) => void changeAggregation(e.target.value as Aggregation)}
                  aria-invalid={aggError ? true : undefined}
                  aria-describedby={`${id}-aggregation-hint${aggError ? ` ${id}-aggregation-error` : ""}`}
                  data-testid="webhook-aggregation"
                >
                  {AGGREGATIONS.map((a) => (
                    <option key={a.value} value={a.value}>
                      {a.label}
                    </option>
                  ))}
                </select>
                <p className="hint" id={`${id}-aggregation-hint`}>
                  {w.aggregation === "none"
                    ? "One request per message, as soon as it arrives."
                    : "One request per chat per window, with an HTML note of the conversation. Changing this first sends the open bundles."}
                </p>
                <FieldError id={`${id}-aggregation-error`} message={aggError} />
                {aggSaved ? (
                  <p className="saved" role="status">
                    Aggregation saved.
                  </p>
                ) : null}
              </div>

              <WebhookFilterEditor
                webhook={w}
                onSaved={(u) => {
                  onChange(stripSecret(u));
                  void activity.reload(true);
                }}
              />

              <div className="field">
                <span className="label">Signing secret</span>
                {confirm === "rotate" ? (
                  <InlineConfirm
                    label="Confirm secret rotation"
                    action="Rotate now"
                    busyAction="Rotating…"
                    busy={actionBusy === "rotate"}
                    onConfirm={() => void run("rotate")}
                    onCancel={() => setConfirm(null)}
                  >
                    <p>
                      Deliveries are signed with both secrets for 24 hours; update your receiver with the new one within
                      that time.
                    </p>
                  </InlineConfirm>
                ) : (
                  <div className="input-row">
                    <code className="secret-masked" aria-label="Secret hidden">
                      whsec_••••••••••••
                    </code>
                    <button
                      type="button"
                      className="btn btn-secondary btn-small"
                      onClick={() => void run("reveal")}
                      disabled={actionBusy === "reveal"}
                    >
                      Reveal
                    </button>
                    <button type="button" className="btn btn-secondary btn-small" onClick={() => setConfirm("rotate")}>
                      Rotate secret
                    </button>
                  </div>
                )}
              </div>

              <div className="btn-row actions">
                <button
                  type="button"
                  className="btn btn-secondary"
                  onClick={() => void run("test")}
                  disabled={actionBusy === "test"}
                >
                  {actionBusy === "test" ? "Sending…" : "Send test event"}
                </button>
                {w.aggregation !== "none" ? (
                  <button
                    type="button"
                    className="btn btn-secondary"
                    onClick={() => void run("flush")}
                    disabled={actionBusy === "flush"}
                  >
                    {actionBusy === "flush" ? "Flushing…" : "Flush open bundles"}
                  </button>
                ) : null}
                <ReplayControl webhook={w} onEnded={() => void refresh()} />
                {confirm === "delete" ? null : (
                  <button type="button" className="btn btn-danger-outline" onClick={() => setConfirm("delete")}>
                    Delete webhook
                  </button>
                )}
              </div>
              {confirm === "delete" ? (
                <InlineConfirm
                  label="Confirm deletion"
                  action="Yes, delete it"
                  busyAction="Deleting…"
                  busy={actionBusy === "delete"}
                  onConfirm={() => void run("delete")}
                  onCancel={() => setConfirm(null)}
                >
                  <p>Delete this webhook? Deliveries to {w.url} stop immediately. This cannot be undone.</p>
                </InlineConfirm>
              ) : null}
              {actionError ? <Alert>{actionError}</Alert> : null}
              {testResult ? <TestResult entry={testResult} /> : null}
              {flushResult !== undefined ? (
                <Alert kind="success" testId="flush-result">
                  {flushResult === 0
                    ? "No open bundles to send."
                    : `Sent ${flushResult} open bundle${flushResult === 1 ? "" : "s"}.`}
                </Alert>
              ) : null}
            </>
          ) : (
            <>
              <dl className="facts" data-testid="webhook-read-only">
                <dt>URL</dt>
                <dd>{w.url}</dd>
                <dt>Aggregation</dt>
                <dd>{AGGREGATIONS.find((a) => a.value === w.aggregation)?.label ?? w.aggregation}</dd>
              </dl>
              {/* Members follow a replay an admin started (no button, no Cancel). */}
              <div className="btn-row">
                <ReplayControl webhook={w} onEnded={() => void refresh()} />
              </div>
            </>
          )}
        </div>

        <div className="webhook-side">
          {stats.error ? (
            <p className="muted small">Delivery chart unavailable: {stats.error}</p>
          ) : stats.data ? (
            <DeliveryChart buckets={stats.data} tz={tz} idPrefix={id} />
          ) : (
            <Loading label="Loading chart…" />
          )}
          <h3 className="section-title">Recent activity</h3>
          {activity.error ? <Alert>Could not load the activity: {activity.error}</Alert> : null}
          {activity.data === undefined && !activity.error ? <Loading label="Loading activity…" /> : null}
          {activity.data && activity.data.length === 0 ? (
            <p className="muted small" data-testid="activity-empty">
              No activity yet. Send a test event, or wait for the next WhatsApp message.
            </p>
          ) : null}
          {activity.data && activity.data.length > 0 ? (
            <ol className="activity" data-testid="activity-log" aria-label="Recent activity">
              {activity.data.slice(0, 10).map((a, i) => {
                // The status is said once, by its chip: the summary's own "(HTTP 200)" is left out here.
                const summary = a.status_code ? a.summary.replace(/ \(HTTP \d{3}\)(?=\.?$)/, "") : a.summary;
                return (
                  <li key={`${a.at}-${i}`} className={`activity-item kind-${a.kind}`} data-kind={a.kind}>
                    <span className="activity-dot" aria-hidden="true" />
                    <span className="activity-main">
                      {a.delivery_id ? (
                        <button
                          type="button"
                          className="activity-open activity-summary"
                          title={a.summary}
                          data-focus-key={`activity-${a.request_id ?? a.delivery_id}`}
                          onClick={() =>
                            delivery.open({ deliveryId: a.delivery_id!, requestId: a.request_id ?? undefined })
                          }
                        >
                          {summary}
                        </button>
                      ) : (
                        <span className="activity-summary" title={a.summary}>
                          {summary}
                        </span>
                      )}
                      {a.status_code ? <span className="chip">HTTP {a.status_code}</span> : null}
                      {a.snippet ? (
                        <span className="activity-snippet muted small" data-testid="activity-snippet">
                          “{a.snippet}”
                        </span>
                      ) : null}
                      {a.actor ? (
                        <span className="muted small activity-actor" data-testid="activity-actor">
                          by {a.actor.name}
                        </span>
                      ) : null}
                    </span>
                    <time dateTime={a.at} title={formatDateTime(a.at, tz)} className="activity-time">
                      {formatRelative(a.at, tz)}
                    </time>
                  </li>
                );
              })}
            </ol>
          ) : null}
        </div>
      </div>

      <footer className="webhook-foot">
        <a
          href={`/api/v1/webhooks/${encodeURIComponent(w.id)}/log`}
          download
          className="download-link"
          data-testid="download-log"
        >
          <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16">
            <path
              d="M10 3v9m0 0 3.5-3.5M10 12 6.5 8.5M4 15h12"
              fill="none"
              stroke="currentColor"
              strokeWidth="1.8"
              strokeLinecap="round"
              strokeLinejoin="round"
            />
          </svg>
          Download detailed log (100 most recent requests)
        </a>
        <DeliveryLog webhook={w} onOpen={delivery.open} version={delivery.version} />
        {delivery.dialog}
      </footer>
    </section>
  );
}

function stripSecret(w: Webhook): Webhook {
  const copy = { ...w };
  delete copy.secret;
  return copy;
}

function TestResult({ entry }: { entry: LogEntry }) {
  const status = entry.response?.status;
  const ok = status !== undefined && status >= 200 && status < 300;
  const took = entry.duration_ms !== undefined ? ` in ${entry.duration_ms} ms` : "";
  let text: string;
  if (ok) text = `Test event delivered: your endpoint answered HTTP ${status}${took}.`;
  else if (status !== undefined) text = `Test event failed: your endpoint answered HTTP ${status}${took}.`;
  else text = `Test event failed: ${(entry.error?.message ?? "no answer from the endpoint").replace(/\.?\s*$/, ".")}`;
  return (
    <div className={`alert alert-${ok ? "success" : "error"}`} role="status" data-testid="test-result" data-ok={ok}>
      {text}
      <span className="muted small block">
        {entry.error?.code && status === undefined ? `${entry.error.code} · ` : ""}
        {entry.request_id ? `Request ${entry.request_id}` : ""}
      </span>
    </div>
  );
}

/**
 * What the gateway sent that Threadline could not read as messages: acknowledged (so the
 * gateway does not retry and drop it), kept here, newest first.
 */
function UnrecognisedEvents({ account }: { account: Account }) {
  const tz = useTimezone();
  const { data, error } = useLoad(
    () => api<List<InboundEvent>>("GET", `/api/v1/accounts/${account.id}/inbound-events?limit=20`),
    [account.id],
  );
  if (error) return <Alert>Could not load the unrecognised events: {error}</Alert>;
  if (!data) return null;
  if (data.items.length === 0)
    return (
      <p className="muted small" data-testid="unrecognised-none">
        No unrecognised events.
      </p>
    );
  return (
    <details className="unrecognised" data-testid="unrecognised-events">
      <summary>
        {data.items.length}
        {data.next_cursor ? "+" : ""} unrecognised event{data.items.length === 1 ? "" : "s"} (received, kept, not turned
        into messages)
      </summary>
      <ul className="plain-list">
        {data.items.map((e) => (
          <li key={e.id}>
            <div>
              <span className="muted">{formatDateTime(e.received_at, tz)}</span> · {e.reason}
            </div>
            <pre className="mono small">{e.body.length > 2000 ? `${e.body.slice(0, 2000)}…` : e.body}</pre>
          </li>
        ))}
      </ul>
    </details>
  );
}

function IncomingTab() {
  // The send URL and inbound URLs are credentials: an admin's.
  const canEdit = useCan("admin");
  const { data, error } = useLoad(() => listAll<Account>("/api/v1/accounts"), []);
  const gateways = (data ?? []).filter((a) => a.source !== "api");
  const apiAccounts = (data ?? []).filter((a) => a.source === "api");
  return (
    <>
      <section className="card">
        <h2>Where messages come in</h2>
        <p>
          Gateway accounts (Meta Cloud API, WAHA, Evolution) send their webhooks to the inbound URL below. Accounts of
          source <strong>API</strong> receive messages through <code>POST /api/v1/messages</code> with the workspace API
          key. Connect accounts on the <Link to="/accounts">Accounts</Link> page.
        </p>
      </section>
      {canEdit ? <SendUrlCard /> : null}
      {error ? <Alert>Could not load the accounts: {error}</Alert> : null}
      {!data && !error ? <Loading /> : null}
      {data && data.length === 0 ? (
        <Empty title="No WhatsApp accounts connected">Connect one on the Accounts page.</Empty>
      ) : null}
      {gateways.length > 0 ? (
        <section className="card">
          <h2>Gateway inbound URLs</h2>
          <ul className="plain-list">
            {gateways.map((a) => (
              <li key={a.id} className="inbound-row">
                <div>
                  <strong>{a.phone}</strong> <span className="muted">· {SOURCE_NAMES[a.source] ?? a.source}</span>
                </div>
                {a.inbound_url ? (
                  <div className="input-row">
                    <input
                      readOnly
                      value={a.inbound_url}
                      aria-label={`Inbound URL for ${a.phone}`}
                      className="mono"
                      onFocus={(e) => e.target.select()}
                    />
                    <CopyButton value={a.inbound_url} />
                  </div>
                ) : (
                  <span className="muted">No inbound URL.</span>
                )}
                {canEdit ? <UnrecognisedEvents account={a} /> : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {apiAccounts.length > 0 ? (
        <section className="card">
          <h2>API accounts</h2>
          <ul className="plain-list">
            {apiAccounts.map((a) => (
              <li key={a.id}>
                <strong>{a.phone}</strong>{" "}
                <span className="muted">· use "account_phone": "{a.phone}" in POST /api/v1/messages</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
