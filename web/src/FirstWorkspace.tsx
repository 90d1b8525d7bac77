import { useMemo, useRef, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage, fieldOf } from "./api.js";
import { navigate } from "./router.js";
import { Alert, CopyButton, FieldError, useDocumentTitle } from "./ui.js";
import "./failure.css";

interface Created {
  id: string;
  name: string;
  timezone: string;
  api_key: string;
  owner_invitation_url: string;
}

const FIELDS = ["token", "name", "owner.full_name", "owner.email", "timezone"] as const;
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
 * Start without curl: the operator creates a workspace with the operator token
 * (`POST /api/v1/workspaces`). The token lives in this component's memory only (no cookie,
 * no storage); the new workspace's API key (for machines) is shown once, and the owner sets
 * a password through the owner's invitation URL.
 */
export function FirstWorkspace({ onBack }: { onBack: () => void }) {
  useDocumentTitle("Create a workspace");
  const timezones = useMemo(zones, []);
  const [form, setForm] = useState({ token: "", name: "", fullName: "", email: "", timezone: timezones[0] ?? "UTC" });
  const [errors, setErrors] = useState<Partial<Record<Field | "form", string>>>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Created>();
  const first = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const missing: Partial<Record<Field, string>> = {};
    if (!form.token.trim()) missing.token = "Enter the operator token printed when Threadline first started.";
    if (!form.name.trim()) missing.name = "Name the workspace (your company or team).";
    if (!form.fullName.trim()) missing["owner.full_name"] = "Enter the owner's name.";
    if (!/^\S+@\S+\.\S+$/.test(form.email.trim()))
      missing["owner.email"] = "Enter the owner's e-mail address; alerts about failing webhooks go there.";
    setErrors(missing);
    if (Object.keys(missing).length) return;
    setBusy(true);
    try {
      const body = {
        name: form.name.trim(),
        owner: { full_name: form.fullName.trim(), email: form.email.trim() },
        timezone: form.timezone,
      };
      setCreated(await api<Created>("POST", "/api/v1/workspaces", body, { token: form.token.trim(), allow401: true }));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403))
        return setErrors({ token: err.message });
      const f = fieldOf(err, FIELDS);
      setErrors(f ? { [f]: errorMessage(err) } : { form: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  // The owner's invitation, opened here (its path: the public URL may name another host than this page).
  const setOwnerPassword = () => created && navigate(new URL(created.owner_invitation_url).pathname);

  const field = (
    id: Field,
    label: string,
    value: string,
    set: (v: string) => void,
    type = "text",
    autoComplete = "off",
  ) => {
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
              This is its API key, for scripts and integrations (people sign in with their e-mail). It is shown{" "}
              <strong>only once</strong>: copy it now and keep it somewhere safe.
            </p>
            <code data-testid="new-api-key">{created.api_key}</code>
            <div className="btn-row">
              <CopyButton value={created.api_key} label="Copy API key" className="btn btn-secondary" />
              <button type="button" className="btn btn-primary" onClick={setOwnerPassword}>
                Set the owner&apos;s password
              </button>
            </div>
            <p className="hint">
              Or send the owner this link (it works once, within 7 days):{" "}
              <code data-testid="owner-invitation-url">{created.owner_invitation_url}</code>
            </p>
            <p className="hint">
              <button
                type="button"
                className="btn btn-link"
                onClick={() => {
                  setCreated(undefined);
                  setForm({ token: form.token, name: "", fullName: "", email: "", timezone: form.timezone });
                }}
              >
                Create another workspace
              </button>
            </p>
          </section>
        ) : (
          <>
            <h1>Create a workspace</h1>
            <p className="muted">
              A workspace holds WhatsApp accounts, conversations and webhooks. Its owner receives the alert e-mails.
            </p>
            <form onSubmit={submit} noValidate data-testid="first-workspace-form">
              {field("token", "Operator token", form.token, (v) => setForm({ ...form, token: v }), "password", "off")}
              {field("name", "Workspace name", form.name, (v) => setForm({ ...form, name: v }))}
              {field(
                "owner.full_name",
                "Owner's name",
                form.fullName,
                (v) => setForm({ ...form, fullName: v }),
                "text",
                "name",
              )}
              {field(
                "owner.email",
                "Owner's e-mail",
                form.email,
                (v) => setForm({ ...form, email: v }),
                "email",
                "email",
              )}
              <div className="field">
                <label htmlFor="ws-timezone">Time zone</label>
                <select
                  id="ws-timezone"
                  value={form.timezone}
                  onChange={(e) => setForm({ ...form, timezone: e.target.value })}
                  aria-describedby="ws-timezone-hint"
                >
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
