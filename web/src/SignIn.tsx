import { useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "./api.js";
import type { Workspace } from "./types.js";
import { Alert, FieldError, useDocumentTitle } from "./ui.js";
import { FirstWorkspace } from "./FirstWorkspace.js";

export function SignIn({ onSignedIn, notice }: { onSignedIn: (w: Workspace) => void; notice?: string }) {
  useDocumentTitle("Sign in");
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  // The operator token, once the server said that is what was entered: in memory only.
  const [operator, setOperator] = useState<{ token: string; notice: string }>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const apiKey = key.trim();
    if (!apiKey) {
      setError("Enter your workspace API key.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ workspace: Workspace }>("POST", "/api/v1/session", { api_key: apiKey }, { allow401: true });
      onSignedIn(r.workspace);
    } catch (err) {
      if (err instanceof ApiError && err.status === 403 && err.code === "FORBIDDEN") {
        setOperator({ token: apiKey, notice: err.message });
        setKey("");
      } else if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        setError(err.message || "That API key is not valid. Check it and try again.");
      } else setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (operator) return <FirstWorkspace token={operator.token} notice={operator.notice} onOpen={onSignedIn} onBack={() => setOperator(undefined)} />;

  return (
    <main className="signin" id="main">
      <div className="signin-card card">
        <div className="signin-brand">
          <span className="brand-mark" aria-hidden="true">
            <svg viewBox="0 0 32 32" width="36" height="36">
              <rect width="32" height="32" rx="8" fill="currentColor" />
              <path d="M8 11h16M8 16h11M8 21h7" stroke="white" strokeWidth="3" strokeLinecap="round" />
            </svg>
          </span>
          <span>Threadline</span>
        </div>
        <h1>Sign in to your workspace</h1>
        <p className="muted">WhatsApp conversations, delivered to your CRM.</p>
        {notice ? <Alert kind="info">{notice}</Alert> : null}
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="api-key">Workspace API key</label>
            <input
              id="api-key"
              name="api_key"
              type="password"
              autoComplete="current-password"
              autoFocus
              spellCheck={false}
              value={key}
              onChange={(e) => setKey(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? "api-key-error" : "api-key-hint"}
            />
            <p className="hint" id="api-key-hint">
              Your operator gave you this key when the workspace was created. New installation? Enter the operator token printed at first start to create the first
              workspace.
            </p>
            <FieldError id="api-key-error" message={error} />
          </div>
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}
