import { useMemo, useRef, useState, type FormEvent } from "react";
import { api, errorMessage, fieldOf } from "./api.js";
import type { Workspace } from "./types.js";
import { Alert, CopyButton, FieldError, useDocumentTitle } from "./ui.js";
import "./failure.css";

interface Created {
  id: string;
  name: string;
  timezone: string;
  api_key: string;
}

const FIELDS = ["name", "owner.full_name", "owner.email", "timezone"] as const;
type Field = (typeof FIELDS)[number];

/** The time zones the browser knows (IANA names), the viewer's own first. */
function zones(): string[] {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let all: string[] = [];
  try {
    all = Intl.supportedValuesOf("timeZone");
  } catch {
    all = [];
  }
  return [...new Set([own, "UTC", ...all])];
}

/**
 * Start without curl: the operator, signed in with the operator token, creates a workspace
 * (`POST /api/v1/workspaces`). The token lives in this component's memory only (no cookie,
 * no storage); the new workspace's API key is shown once, with a Copy button and a way in.
 */
export function FirstWorkspace({ token, notice, onOpen, onBack }: { token: string; notice: string; onOpen: (w: Workspace) => void; onBack: () => void }) {
  useDocumentTitle("Create a workspace");
  const timezones = useMemo(zones, []);
  const [form, setForm] = useState({ name: "", fullName: "", email: "", timezone: timezones[0] ?? "UTC" });
  const [errors, setErrors] = useState<Partial<Record<Field | "form", string>>>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Created>();
  const [opening, setOpening] = useState(false);
  const [openError, setOpenError] = useState<string>();
  const first = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const missing: Partial<Record<Field, string>> = {};
    if (!form.name.trim()) missing.name = "Name the workspace (your company or team).";
    if (!form.fullName.trim()) missing["owner.full_name"] = "Enter the owner's name.";
    if (!/^\S+@\S+\.\S+$/.test(form.email.trim())) missing["owner.email"] = "Enter the owner's e-mail address; alerts about failing webhooks go there.";
    setErrors(missing);
    if (Object.keys(missing).length) return;
    setBusy(true);
    try {
      const body = { name: form.name.trim(), owner: { full_name: form.fullName.trim(), email: form.email.trim() }, timezone: form.timezone };
      setCreated(await api<Created>("POST", "/api/v1/workspaces", body, { token, allow401: true }));
    } catch (err) {
      const f = fieldOf(err, FIELDS);
      setErrors(f ? { [f]: errorMessage(err) } : { form: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const open = async () => {
    if (!created) return;
    setOpening(true);
    setOpenError(undefined);
    try {
      const r = await api<{ workspace: Workspace }>("POST", "/api/v1/session", { api_key: created.api_key }, { allow401: true });
      onOpen(r.workspace);
    } catch (err) {
      setOpenError(errorMessage(err));
      setOpening(false);
    }
  };

  const field = (id: Field, label: string, value: string, set: (v: string) => void, type = "text", autoComplete = "off") => {
    const domId = `ws-${id.replace(".", "-")}`;
    return (
      <div className="field">
        <label htmlFor={domId}>{label}</label>
        <input
          id={domId}
          ref={id === "name" ? first : undefined}
          type={type}
          value={value}
          autoComplete={autoComplete}
          onChange={(e) => set(e.target.value)}
          aria-invalid={errors[id] ? true : undefined}
          aria-describedby={errors[id] ? `${domId}-error` : undefined}
        />
        <FieldError id={`${domId}-error`} message={errors[id]} />
      </div>
    );
  };

  return (
    <main className="signin" id="main">
      <div className="signin-card card">
        {created ? (
          <section className="api-key-once" data-testid="workspace-created" aria-labelledby="ws-created-title">
            <h1 id="ws-created-title">Workspace {created.name} is ready</h1>
            <p>
              This is its API key. It is shown <strong>only once</strong>: copy it now and keep it somewhere safe. Teammates sign in with it, and scripts send messages with
              it.
            </p>
            <code data-testid="new-api-key">{created.api_key}</code>
            <div className="btn-row">
              <CopyButton value={created.api_key} label="Copy API key" className="btn btn-secondary" />
              <button type="button" className="btn btn-primary" onClick={() => void open()} disabled={opening}>
                {opening ? "Opening…" : "Open the workspace"}
              </button>
            </div>
            {openError ? <Alert>{openError}</Alert> : null}
            <p className="hint">
              <button
                type="button"
                className="btn btn-link"
                onClick={() => {
                  setCreated(undefined);
                  setForm({ name: "", fullName: "", email: "", timezone: form.timezone });
                }}
              >
                Create another workspace
              </button>
            </p>
          </section>
        ) : (
          <>
            <h1>Create a workspace</h1>
            <Alert kind="info">{notice}</Alert>
            <p className="muted">A workspace holds WhatsApp accounts, conversations and webhooks. Its owner receives the alert e-mails.</p>
            <form onSubmit={submit} noValidate data-testid="first-workspace-form">
              {field("name", "Workspace name", form.name, (v) => setForm({ ...form, name: v }))}
              {field("owner.full_name", "Owner's name", form.fullName, (v) => setForm({ ...form, fullName: v }), "text", "name")}
              {field("owner.email", "Owner's e-mail", form.email, (v) => setForm({ ...form, email: v }), "email", "email")}
              <div className="field">
                <label htmlFor="ws-timezone">Time zone</label>
                <select id="ws-timezone" value={form.timezone} onChange={(e) => setForm({ ...form, timezone: e.target.value })} aria-describedby="ws-timezone-hint">
                  {timezones.map((z) => (
                    <option key={z} value={z}>
                      {z}
                    </option>
                  ))}
                </select>
                <p className="hint" id="ws-timezone-hint">
                  Times are shown in it, and aggregated webhooks close their windows by it.
                </p>
                <FieldError id="ws-timezone-error" message={errors.timezone} />
              </div>
              {errors.form ? <Alert>{errors.form}</Alert> : null}
              <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
                {busy ? "Creating…" : "Create workspace"}
              </button>
            </form>
            <p className="hint">
              <button type="button" className="btn btn-link" onClick={onBack}>
                Back to sign in
              </button>
            </p>
          </>
        )}
      </div>
    </main>
  );
}
