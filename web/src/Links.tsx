import { useState, type FormEvent } from "react";
import { api, errorMessage } from "./api.js";
import type { Me } from "./types.js";
import { Alert, FieldError, useDocumentTitle } from "./ui.js";
import { Brand } from "./SignIn.js";

const TEXT = {
  invitation: {
    title: "Join your team on Threadline",
    button: "Join and sign in",
    path: "/api/v1/invitations/accept",
    intro: "Choose a password to finish joining the workspace.",
  },
  reset: {
    title: "Choose a new password",
    button: "Set password and sign in",
    path: "/api/v1/password-resets/accept",
    intro: "Your other sessions will be signed out.",
  },
  signin: {
    title: "Sign in with your link",
    button: "Sign in",
    path: "/api/v1/sign-in-links/accept",
    intro: "This link signs you in once.",
  },
} as const;

/**
 * The pages of the links e-mailed to people (an invitation, a password reset, a one-time
 * sign-in): nothing is used up until the person submits (mail scanners open links too).
 */
export function LinkPage({
  kind,
  token,
  onSignedIn,
}: {
  kind: keyof typeof TEXT;
  token: string;
  onSignedIn: (me: Me) => void;
}) {
  const t = TEXT[kind];
  useDocumentTitle(t.title);
  const [password, setPassword] = useState("");
  const [fullName, setFullName] = useState("");
  const [error, setError] = useState<{ field?: string; message: string }>();
  const [busy, setBusy] = useState(false);
  const needsPassword = kind !== "signin";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (needsPassword && password.length < 10)
      return setError({ field: "password", message: "Use at least 10 characters." });
    setBusy(true);
    setError(undefined);
    try {
      const body =
        kind === "signin"
          ? { token }
          : kind === "reset"
            ? { token, password }
            : { token, password, ...(fullName.trim() ? { full_name: fullName.trim() } : {}) };
      onSignedIn(await api<Me>("POST", t.path, body, { allow401: true }));
    } catch (err) {
      const field = (err as { field?: string }).field;
      setError({
        field: field === "password" || field === "full_name" ? field : undefined,
        message: errorMessage(err),
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin" id="main">
      <div className="signin-card card">
        <Brand />
        <h1>{t.title}</h1>
        <p className="muted">{t.intro}</p>
        <form onSubmit={submit} noValidate>
          {kind === "invitation" ? (
            <div className="field">
              <label htmlFor="link-name">Your name (optional)</label>
              <input
                id="link-name"
                type="text"
                autoComplete="name"
                value={fullName}
                onChange={(e) => setFullName(e.target.value)}
              />
              <FieldError id="link-name-error" message={error?.field === "full_name" ? error.message : undefined} />
            </div>
          ) : null}
          {needsPassword ? (
            <div className="field">
              <label htmlFor="link-password">{kind === "reset" ? "New password" : "Password"}</label>
              <input
                id="link-password"
                type="password"
                autoComplete="new-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                aria-invalid={error?.field === "password" ? true : undefined}
                aria-describedby="link-password-hint"
              />
              <p className="hint" id="link-password-hint">
                At least 10 characters.
              </p>
              <FieldError id="link-password-error" message={error?.field === "password" ? error.message : undefined} />
            </div>
          ) : null}
          {error && !error.field ? <Alert>{error.message}</Alert> : null}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? "One moment…" : t.button}
          </button>
        </form>
      </div>
    </main>
  );
}
