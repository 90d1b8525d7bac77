import { useState, type FormEvent } from "react";
import { api, errorMessage } from "./api.js";
import type { Actor } from "./types.js";
import {
  Alert,
  CopyButton,
  Empty,
  FieldError,
  Loading,
  formatDateTime,
  useDocumentTitle,
  useLoad,
  useTimezone,
} from "./ui.js";

interface ApiKey {
  id: string;
  name: string;
  created_by: Actor;
  created_at: string;
  last_used_at: string | null;
}

/** API keys are for machines (scripts, Zapier, a CRM): each named, its secret shown once, revoked at once. */
export function ApiKeysPage() {
  useDocumentTitle("API keys");
  const tz = useTimezone();
  const keys = useLoad(() => api<{ items: ApiKey[] }>("GET", "/api/v1/api-keys").then((r) => r.items), []);
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError("Name the key after what uses it (say, Zapier).");
    setBusy(true);
    setError(undefined);
    try {
      const k = await api<ApiKey & { key: string }>("POST", "/api/v1/api-keys", { name: name.trim() });
      setCreated({ name: k.name, key: k.key });
      keys.setData((l) => [
        { id: k.id, name: k.name, created_by: k.created_by, created_at: k.created_at, last_used_at: null },
        ...(l ?? []),
      ]);
      setName("");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: ApiKey) => {
    if (!window.confirm(`Revoke ${k.name}? Whatever uses it is refused from its next request.`)) return;
    try {
      await api("DELETE", `/api/v1/api-keys/${encodeURIComponent(k.id)}`);
      keys.setData((l) => (l ?? []).filter((x) => x.id !== k.id));
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>API keys</h1>
          <p className="muted">
            For scripts and integrations; people sign in with their e-mail. A key acts as an admin, under its name in
            the audit log.
          </p>
        </div>
      </div>
      <div className="two-col">
        <section className="card" aria-labelledby="keys-title">
          <h2 id="keys-title">Keys</h2>
          {keys.error ? <Alert>Could not load the keys: {keys.error}</Alert> : null}
          {keys.loading && !keys.data ? <Loading label="Loading keys…" /> : null}
          {keys.data && keys.data.length === 0 ? <Empty title="No API keys" /> : null}
          {keys.data && keys.data.length > 0 ? (
            <ul className="people" aria-label="API keys" data-testid="api-keys">
              {keys.data.map((k) => (
                <li key={k.id} className="person">
                  <span>
                    <span className="person-name">{k.name}</span>
                    <span className="muted block small">
                      made by {k.created_by.name} on {formatDateTime(k.created_at, tz)} ·{" "}
                      {k.last_used_at ? `last used ${formatDateTime(k.last_used_at, tz)}` : "never used"}
                    </span>
                  </span>
                  <button type="button" className="btn btn-ghost btn-small" onClick={() => void revoke(k)}>
                    Revoke {k.name}
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </section>
        <section className="card" aria-labelledby="new-key-title">
          <h2 id="new-key-title">New key</h2>
          <form onSubmit={submit} noValidate>
            <div className="field">
              <label htmlFor="key-name">Name</label>
              <input
                id="key-name"
                autoComplete="off"
                value={name}
                onChange={(e) => setName(e.target.value)}
                aria-invalid={error ? true : undefined}
              />
              <FieldError id="key-name-error" message={error} />
            </div>
            <button type="submit" className="btn btn-primary" disabled={busy}>
              Create key
            </button>
          </form>
          {created ? (
            <Alert kind="success" testId="new-key">
              {created.name}: <code data-testid="new-api-key">{created.key}</code>{" "}
              <CopyButton value={created.key} label="Copy key" /> Shown only now: copy it.
            </Alert>
          ) : null}
        </section>
      </div>
    </div>
  );
}
