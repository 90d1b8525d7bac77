import { useEffect, useId, useState } from "react";
import { api, ApiError, errorMessage } from "./api.js";
import { wallTimeIn, wallTimeOf } from "./days.js";
import type { ReplayCount, ReplayStarted, ReplayView, Webhook } from "./types.js";

import { Alert, ModalDialog, formatDateTime, useCan, useInterval, useTimezone, zoneName } from "./ui.js";

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/**
 * "Send again since…" on a webhook card: a dialog takes a time (in the workspace's zone),
 * shows how many messages a replay from then would send (`GET …/replay/count`, the replay's
 * own count) before it is confirmed, then the card follows its progress (`GET …/replay`,
 * every second while it runs) and can cancel it (`DELETE …/replay`).
 */
export function ReplayControl({ webhook, onEnded }: { webhook: Webhook; onEnded: () => void }) {
  const canEdit = useCan("admin");
  const base = `/api/v1/webhooks/${webhook.id}/replay`;
  const [replay, setReplay] = useState<ReplayView>();
  const [open, setOpen] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [error, setError] = useState<string>();
  const running = replay?.state === "running";

  const load = async () => {
    try {
      const r = await api<ReplayView>("GET", base);
      setReplay((before) => {
        if (before?.state === "running" && r.state !== "running") onEnded();
        return r;
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) setError(errorMessage(e));
    }
  };
  useEffect(() => {
    void load();
  }, [webhook.id]);
  useInterval(() => void load(), running ? 1000 : null);

  const cancel = async () => {
    setCancelling(true);
    setError(undefined);
    try {
      setReplay(await api<ReplayView>("DELETE", base));
      onEnded();
    } catch (e) {
      setError(errorMessage(e));
      void load();
    } finally {
      setCancelling(false);
    }
  };

  return (
    <div className="replay" data-testid="replay">
      {canEdit && webhook.enabled && !running ? (
        <button type="button" className="btn btn-secondary" onClick={() => setOpen(true)} data-testid="replay-open">
          Send again since…
        </button>
      ) : null}
      {replay ? (
        <ReplayProgress replay={replay} onCancel={canEdit && running ? cancel : undefined} cancelling={cancelling} />
      ) : null}
      {error ? <Alert>{error}</Alert> : null}
      {open ? (
        <ReplayDialog
          webhook={webhook}
          onClose={() => setOpen(false)}
          onStarted={(r) => {
            setOpen(false);
            setReplay(r);
            onEnded();
          }}
        />
      ) : null}
    </div>
  );
}

function ReplayProgress({
  replay: r,
  onCancel,
  cancelling,
}: {
  replay: ReplayView;
  onCancel?: () => void;
  cancelling: boolean;
}) {
  const tz = useTimezone();
  const done = r.delivered + r.failed;
  const since = formatDateTime(r.since, tz);
  const counts = `${r.delivered} of ${r.total} delivered${r.failed ? `, ${r.failed} failed` : ""}`;
  const headline =
    r.state === "running"
      ? `Sending again the messages since ${since}: ${counts}.`
      : r.state === "done"
        ? `Sent again the messages since ${since}: ${counts}.`
        : r.state === "cancelled"
          ? `Replay since ${since} cancelled: ${counts}.`
          : `Replay since ${since} stopped: ${r.reason ?? "the receiver kept failing"} ${counts}.`;
  return (
    <div
      className={`replay-progress replay-${r.state}`}
      role="status"
      data-testid="replay-progress"
      data-state={r.state}
    >
      <p>{headline}</p>
      {r.state === "running" ? <progress max={Math.max(r.total, 1)} value={done} aria-label="Replay progress" /> : null}
      {onCancel ? (
        <button
          type="button"
          className="btn btn-secondary btn-small"
          onClick={onCancel}
          disabled={cancelling}
          data-testid="replay-cancel"
        >
          {cancelling ? "Cancelling…" : "Cancel replay"}
        </button>
      ) : null}
    </div>
  );
}

function ReplayDialog({
  webhook,
  onClose,
  onStarted,
}: {
  webhook: Webhook;
  onClose: () => void;
  onStarted: (r: ReplayView) => void;
}) {
  const tz = useTimezone();
  const zone = zoneName(tz);
  const inputId = useId();
  const [since, setSince] = useState(() => wallTimeOf(Date.now() - 3600_000, zone));
  const [count, setCount] = useState<{ since: string; messages: number }>();
  const [counting, setCounting] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  // The count follows the time typed (the replay's own count, asked of the server).
  useEffect(() => {
    setCount(undefined);
    setError(undefined);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(since)) return;
    const iso = wallTimeIn(since, zone);
    let live = true;
    setCounting(true);
    const t = window.setTimeout(() => {
      api<ReplayCount>("GET", `/api/v1/webhooks/${webhook.id}/replay/count?since=${encodeURIComponent(iso)}`)
        .then((r) => live && setCount({ since: iso, messages: r.messages }))
        .catch((e) => live && setError(errorMessage(e)))
        .finally(() => live && setCounting(false));
    }, 250);
    return () => {
      live = false;
      window.clearTimeout(t);
    };
  }, [since, zone, webhook.id]);

  const start = async () => {
    if (!count) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<ReplayStarted>("POST", `/api/v1/webhooks/${webhook.id}/replay`, { since: count.since });
      const now = new Date().toISOString();
      onStarted({
        replay_id: r.replay_id,
        state: "running",
        since: count.since,
        until: now,
        total: r.messages,
        delivered: 0,
        failed: 0,
        reason: null,
        started_at: now,
        ended_at: null,
      });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <ModalDialog title="Send again since…" className="replay-dialog" testId="replay-dialog" onClose={onClose}>
      <p className="muted">
        Delivers again every message stored since then that this webhook lets through
        {webhook.aggregation !== "none" ? " (the whole bundles of the windows since then)" : ""}, each under the{" "}
        <code>webhook-id</code> of its first delivery, so your receiver can drop the ones it already has.
      </p>
      <label htmlFor={inputId}>Since ({zone})</label>
      <input
        id={inputId}
        type="datetime-local"
        value={since}
        onChange={(e) => setSince(e.target.value)}
        max={wallTimeOf(Date.now(), zone)}
        data-testid="replay-since"
      />
      <p data-testid="replay-count" aria-live="polite">
        {counting
          ? "Counting…"
          : count
            ? count.messages === 0
              ? "No messages were stored since then."
              : `${plural(count.messages, "message")} will be sent again.`
            : null}
      </p>
      {error ? <Alert>{error}</Alert> : null}
      <div className="btn-row">
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => void start()}
          disabled={busy || counting || !count || count.messages === 0}
          data-testid="replay-confirm"
        >
          {busy
            ? "Starting…"
            : count && count.messages > 0
              ? `Send ${plural(count.messages, "message")} again`
              : "Send again"}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onClose}>
          Cancel
        </button>
      </div>
    </ModalDialog>
  );
}
