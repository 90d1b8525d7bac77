import { useState } from "react";
import { api } from "./api.js";
import type { Actor } from "./types.js";
import { Alert, Empty, Loading, formatDateTime, useDocumentTitle, useLoad, useTimezone } from "./ui.js";

interface Entry {
  id: string;
  at: string;
  actor: Actor;
  action: string;
  object: { type: string; id: string };
  before: unknown;
  after: unknown;
  address: string | null;
}

const show = (v: unknown) => (v === null || v === undefined ? "" : JSON.stringify(v));

/** Who changed what, newest first (`GET /api/v1/audit`), filtered by actor or object id. */
export function AuditPage() {
  useDocumentTitle("Audit log");
  const tz = useTimezone();
  const [filter, setFilter] = useState({ actor: "", object: "" });
  const [applied, setApplied] = useState(filter);
  const [more, setMore] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const query = (c?: string) => {
    const q = new URLSearchParams();
    if (applied.actor.trim()) q.set("actor", applied.actor.trim());
    if (applied.object.trim()) q.set("object", applied.object.trim());
    if (c) q.set("cursor", c);
    return api<{ items: Entry[]; next_cursor: string | null }>("GET", `/api/v1/audit?${q.toString()}`);
  };
  const page = useLoad(async () => {
    const r = await query();
    setMore([]);
    setCursor(r.next_cursor);
    return r.items;
  }, [applied.actor, applied.object]);
  const loadMore = async () => {
    if (!cursor) return;
    const r = await query(cursor);
    setMore((m) => [...m, ...r.items]);
    setCursor(r.next_cursor);
  };
  const items = [...(page.data ?? []), ...more];

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">
            Every change, who made it (a person, an API key, or Threadline itself) and from where. Secrets are never
            recorded.
          </p>
        </div>
      </div>
      <form
        className="filters btn-row"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filter);
        }}
      >
        <label htmlFor="audit-actor">Actor id</label>
        <input
          id="audit-actor"
          value={filter.actor}
          onChange={(e) => setFilter({ ...filter, actor: e.target.value })}
          placeholder="tm_… or key_…"
        />
        <label htmlFor="audit-object">Object id</label>
        <input
          id="audit-object"
          value={filter.object}
          onChange={(e) => setFilter({ ...filter, object: e.target.value })}
          placeholder="wh_…"
        />
        <button type="submit" className="btn btn-secondary btn-small">
          Filter
        </button>
      </form>
      <section className="card">
        {page.error ? <Alert>Could not load the audit log: {page.error}</Alert> : null}
        {page.loading && !page.data ? <Loading label="Loading the audit log…" /> : null}
        {page.data && items.length === 0 ? <Empty title="Nothing recorded yet" /> : null}
        {items.length ? (
          <table className="table" data-testid="audit-log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Object</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>{formatDateTime(e.at, tz)}</td>
                  <td>
                    {e.actor.name}{" "}
                    <span className="muted small">
                      ({e.actor.type === "api_key" ? "API key" : e.actor.type}
                      {e.address ? `, ${e.address}` : ""})
                    </span>
                  </td>
                  <td>{e.action}</td>
                  <td>
                    {e.object.type} <code>{e.object.id}</code>
                  </td>
                  <td className="small">
                    {show(e.before)}
                    {e.before && e.after ? " → " : ""}
                    {show(e.after)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {cursor ? (
          <button type="button" className="btn btn-secondary" onClick={() => void loadMore()}>
            Older entries
          </button>
        ) : null}
      </section>
    </div>
  );
}
