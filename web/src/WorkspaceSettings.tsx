import { useEffect, useState, type FormEvent } from "react";
import { api, errorMessage } from "./api.js";
import type { WorkspaceSettings } from "./types.js";
import { Alert, FieldError, Loading, useCan, useDocumentTitle, useLoad } from "./ui.js";

/**
 * The workspace page (opened from its name in the top bar): its name and zone, and how long
 * messages are kept. Only the owner changes the retention (`PATCH /api/v1/workspace`); the
 * page says when messages past it wait for a webhook that has not delivered them yet.
 */
export function WorkspacePage() {
  useDocumentTitle("Workspace");
  const owner = useCan("owner");
  const ws = useLoad(() => api<WorkspaceSettings>("GET", "/api/v1/workspace"), []);
  const [keep, setKeep] = useState<"all" | "days">("all");
  const [days, setDays] = useState("90");
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!ws.data) return;
    setKeep(ws.data.retention_days === null ? "all" : "days");
    if (ws.data.retention_days !== null) setDays(String(ws.data.retention_days));
  }, [ws.data?.retention_days]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const n = Number(days);
    if (keep === "days" && !(Number.isInteger(n) && n >= 1 && n <= 36_500))
      return setError("A whole number of days from 1 to 36500.");
    setBusy(true);
    setError(undefined);
    try {
      ws.setData(
        await api<WorkspaceSettings>("PATCH", "/api/v1/workspace", { retention_days: keep === "all" ? null : n }),
      );
      setSaved(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const w = ws.data;
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Workspace</h1>
          {w ? (
            <p className="muted">
              {w.name} · times in {w.timezone}
            </p>
          ) : null}
        </div>
      </div>
      {ws.error ? <Alert>Could not load the workspace: {ws.error}</Alert> : null}
      {ws.loading && !w ? <Loading label="Loading the workspace…" /> : null}
      {w ? (
        <section className="card" aria-labelledby="retention-title" data-testid="retention">
          <h2 id="retention-title">Message retention</h2>
          <p className="muted">
            Messages older than this are deleted every hour, except those a switched-on webhook has not delivered yet:
            they wait for it.
          </p>
          {w.retention_waiting > 0 ? (
            <Alert kind="warning" testId="retention-waiting">
              {w.retention_waiting >= 10_000
                ? "10,000 or more messages are"
                : `${w.retention_waiting} message${w.retention_waiting === 1 ? " is" : "s are"}`}{" "}
              past the retention time but kept: a switched-on webhook has not delivered{" "}
              {w.retention_waiting === 1 ? "it" : "them"} yet. They are deleted once it has.
            </Alert>
          ) : null}
          {owner ? (
            <form onSubmit={save} noValidate className="retention-form">
              <fieldset className="field">
                <legend>Keep messages</legend>
                <label className="check">
                  <input type="radio" name="keep" checked={keep === "all"} onChange={() => setKeep("all")} /> Forever
                </label>
                <label className="check">
                  <input type="radio" name="keep" checked={keep === "days"} onChange={() => setKeep("days")} /> For{" "}
                  <input
                    type="number"
                    min={1}
                    max={36500}
                    value={days}
                    onChange={(e) => {
                      setKeep("days");
                      setDays(e.target.value);
                    }}
                    aria-label="Days to keep messages"
                    aria-invalid={error ? true : undefined}
                    aria-describedby="retention-error"
                    className="input-days"
                    data-testid="retention-days"
                  />{" "}
                  days
                </label>
                <FieldError id="retention-error" message={error} />
              </fieldset>
              <button type="submit" className="btn btn-primary" disabled={busy} data-testid="retention-save">
                {busy ? "Saving…" : "Save"}
              </button>
              {saved ? (
                <Alert kind="success" testId="retention-saved">
                  Saved.
                </Alert>
              ) : null}
            </form>
          ) : (
            <p data-testid="retention-read-only">
              {w.retention_days === null
                ? "Messages are kept forever."
                : `Messages are kept for ${w.retention_days} days.`}{" "}
              Only the owner changes this.
            </p>
          )}
        </section>
      ) : null}
    </div>
  );
}
