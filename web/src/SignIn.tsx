import { useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "./api.js";
import type { Me } from "./types.js";
import { Alert, FieldError, useDocumentTitle, useLoad } from "./ui.js";
import { FirstWorkspace } from "./FirstWorkspace.js";

/** Threadline's mark (the same drawing as the favicon and the /docs logo). */
export function BrandMark({ size }: { size: number }) {
  return (
    <span className="brand-mark" aria-hidden="true">
      <svg viewBox="0 0 32 32" width={size} height={size}>
        <rect width="32" height="32" rx="8" fill="currentColor" />
        <path d="M8 11h16M8 16h11M8 21h7" stroke="white" strokeWidth="3" strokeLinecap="round" />
      </svg>
    </span>
  );
}

export function Brand() {
  return (
    <div className="signin-brand">
      <BrandMark size={36} />
      <span>Threadline</span>
    </div>
  );
}

/**
 * Signing in as a person: e-mail and password, or a one-time link by e-mail; a reset link
 * for a forgotten password (or none yet); single sign-on when the server offers it. The
 * operator creates workspaces from here with the operator token.
 */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (me: Me) => void; notice?: string }) {
  useDocumentTitle("Sign in");
  // Offered when the server has an OpenID provider configured.
  const sso = useLoad(
    () =>
      api<{ enabled: boolean }>("GET", "/api/v1/sso", undefined, { allow401: true })
        .then((r) => r.enabled)
        .catch(() => false),
    [],
  ).data;
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<{ field?: "email" | "password"; message: string }>();
  const [sent, setSent] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [creating, setCreating] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSent(undefined);
    if (!email.trim()) return setError({ field: "email", message: "Enter your e-mail address." });
    if (!password)
      return setError({ field: "password", message: "Enter your password, or ask for a sign-in link below." });
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api<Me>("POST", "/api/v1/session", { email: email.trim(), password }, { allow401: true }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError({ field: "password", message: err.message });
      else setError({ message: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const ask = async (kind: "sign-in-links" | "password-resets") => {
    setSent(undefined);
    if (!email.trim())
      return setError({ field: "email", message: "Enter your e-mail address first: the link is sent there." });
    setError(undefined);
    try {
      const r = await api<{ message: string }>("POST", `/api/v1/${kind}`, { email: email.trim() }, { allow401: true });
      setSent(r.message);
    } catch (err) {
      setError({ message: errorMessage(err) });
    }
  };

  if (creating) return <FirstWorkspace onBack={() => setCreating(false)} />;

  return (
    <main className="signin" id="main">
      <div className="signin-card card">
        <Brand />
        <h1>Sign in to your workspace</h1>
        <p className="muted">WhatsApp conversations, delivered to your CRM.</p>
        {notice ? <Alert kind="info">{notice}</Alert> : null}
        {sent ? (
          <Alert kind="success" testId="link-sent">
            {sent}
          </Alert>
        ) : null}
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="signin-email">E-mail</label>
            <input
              id="signin-email"
              name="email"
              type="email"
              autoComplete="username"
              autoFocus
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              aria-invalid={error?.field === "email" ? true : undefined}
              aria-describedby={error?.field === "email" ? "signin-email-error" : undefined}
            />
            <FieldError id="signin-email-error" message={error?.field === "email" ? error.message : undefined} />
          </div>
          <div className="field">
            <label htmlFor="signin-password">Password</label>
            <input
              id="signin-password"
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={error?.field === "password" ? true : undefined}
              aria-describedby={error?.field === "password" ? "signin-password-error" : undefined}
            />
            <FieldError id="signin-password-error" message={error?.field === "password" ? error.message : undefined} />
          </div>
          {error && !error.field ? <Alert>{error.message}</Alert> : null}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
        <div className="btn-row">
          <button type="button" className="btn btn-link" onClick={() => void ask("sign-in-links")}>
            E-mail me a sign-in link
          </button>
          <button type="button" className="btn btn-link" onClick={() => void ask("password-resets")}>
            Forgot your password?
          </button>
        </div>
        {sso ? (
          <p>
            <a
              className="btn btn-secondary btn-block"
              href={`/sso/start${window.location.search.includes("next=") ? `?next=${encodeURIComponent(new URLSearchParams(window.location.search).get("next") ?? "/")}` : ""}`}
            >
              Sign in with single sign-on
            </a>
          </p>
        ) : null}
        <p className="hint">
          New installation?{" "}
          <button type="button" className="btn btn-link" onClick={() => setCreating(true)}>
            Create a workspace with the operator token
          </button>
        </p>
      </div>
    </main>
  );
}
