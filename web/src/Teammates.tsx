import { useContext, useRef, useState, type FormEvent } from "react";
import { api, errorMessage, fieldOf, listAll } from "./api.js";
import type { Role, Teammate } from "./types.js";
import {
  Alert,
  ConfirmByTyping,
  CopyButton,
  Empty,
  FieldError,
  Loading,
  MeContext,
  formatDateTime,
  initials,
  useCan,
  useDocumentTitle,
  useLoad,
  useTimezone,
} from "./ui.js";

interface Invitation {
  id: string;
  email: string;
  full_name: string;
  role: Role;
  expires_at: string;
  url?: string;
}

const ROLE_HELP: Record<Role, string> = {
  owner: "everything, including owners, workspace settings",
  admin: "webhooks, accounts, API keys, teammates (not owners), send URL",
  member: "Timeline, conversations, sending, assigning chats; sees webhooks read-only",
};

/**
 * The people of the workspace: their roles, open invitations, and (for admins and owners)
 * inviting, changing a role and removing someone. A member sees the list only.
 */
export function TeammatesPage() {
  useDocumentTitle("Teammates");
  const tz = useTimezone();
  const me = useContext(MeContext);
  const admin = useCan("admin");
  const owner = useCan("owner");
  const list = useLoad(() => listAll<Teammate>("/api/v1/teammates"), []);
  const invitations = useLoad(
    () => (admin ? listAll<Invitation>("/api/v1/invitations") : Promise.resolve([] as Invitation[])),
    [admin],
  );
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [errors, setErrors] = useState<{ full_name?: string; email?: string; role?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const [invited, setInvited] = useState<Invitation>();
  const [rowError, setRowError] = useState<string>();
  const nameRef = useRef<HTMLInputElement>(null);
  const emailRef = useRef<HTMLInputElement>(null);
  /** Whether the signed-in person may manage someone of `r` (admins never touch owners). */
  const manages = (r: Role) => admin && (r !== "owner" || owner);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errs: typeof errors = {};
    if (!fullName.trim()) errs.full_name = "Enter the teammate's full name.";
    if (!email.trim()) errs.email = "Enter the teammate's e-mail address.";
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()))
      errs.email = "Enter a valid e-mail address, like name@company.com.";
    setInvited(undefined);
    if (errs.full_name || errs.email) {
      setErrors(errs);
      (errs.full_name ? nameRef : emailRef).current?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const inv = await api<Invitation>("POST", "/api/v1/invitations", {
        full_name: fullName.trim(),
        email: email.trim(),
        role,
      });
      invitations.setData((l) => [inv, ...(l ?? []).filter((x) => x.email !== inv.email)]);
      setInvited(inv);
      setFullName("");
      setEmail("");
      nameRef.current?.focus();
    } catch (err) {
      const f = fieldOf(err, ["full_name", "email", "role"]);
      setErrors(f ? { [f]: errorMessage(err) } : { form: errorMessage(err) });
      (f === "full_name" ? nameRef : emailRef).current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const changeRole = async (t: Teammate, r: Role) => {
    setRowError(undefined);
    try {
      const updated = await api<Teammate>("PATCH", `/api/v1/teammates/${encodeURIComponent(t.id)}`, { role: r });
      list.setData((l) => (l ?? []).map((x) => (x.id === t.id ? updated : x)));
    } catch (err) {
      setRowError(errorMessage(err));
    }
  };
  const [removing, setRemoving] = useState<string | null>(null);
  const [removeBusy, setRemoveBusy] = useState(false);
  const [removeError, setRemoveError] = useState<string>();
  const remove = async (t: Teammate) => {
    setRemoveBusy(true);
    setRemoveError(undefined);
    try {
      await api("DELETE", `/api/v1/teammates/${encodeURIComponent(t.id)}`);
      list.setData((l) => (l ?? []).filter((x) => x.id !== t.id));
      setRemoving(null);
    } catch (err) {
      setRemoveError(errorMessage(err));
    } finally {
      setRemoveBusy(false);
    }
  };
  const withdraw = async (inv: Invitation) => {
    try {
      await api("DELETE", `/api/v1/invitations/${encodeURIComponent(inv.id)}`);
      invitations.setData((l) => (l ?? []).filter((x) => x.id !== inv.id));
    } catch (err) {
      setRowError(errorMessage(err));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Teammates</h1>
          <p className="muted">
            The people of this workspace. Each signs in as themselves; their role says what they can do.
          </p>
        </div>
      </div>
      <div className="two-col">
        <section className="card" aria-labelledby="teammates-title">
          <h2 id="teammates-title">Team</h2>
          {list.error ? <Alert>Could not load the teammates: {list.error}</Alert> : null}
          {rowError ? <Alert>{rowError}</Alert> : null}
          {list.loading && !list.data ? <Loading label="Loading teammates…" /> : null}
          {list.data && list.data.length === 0 ? <Empty title="No teammates yet" /> : null}
          {list.data && list.data.length > 0 ? (
            <ul className="people" aria-label="Teammates" data-testid="teammates-list">
              {list.data.map((t) => (
                <li key={t.id} className="person" data-testid={`person-${t.email}`}>
                  <span className="avatar" aria-hidden="true">
                    {initials(t.full_name)}
                  </span>
                  <span>
                    <span className="person-name">{t.full_name}</span>
                    <span className="muted block small">{t.email}</span>
                  </span>
                  {manages(t.role) && t.id !== me?.id ? (
                    <span className="btn-row">
                      <label className="sr-only" htmlFor={`role-${t.id}`}>
                        Role of {t.full_name}
                      </label>
                      <select
                        id={`role-${t.id}`}
                        value={t.role}
                        onChange={(e) => void changeRole(t, e.target.value as Role)}
                      >
                        {(owner ? (["owner", "admin", "member"] as const) : (["admin", "member"] as const)).map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                      <button
                        type="button"
                        className="btn btn-ghost btn-small"
                        aria-expanded={removing === t.id}
                        onClick={() => {
                          setRemoveError(undefined);
                          setRemoving(removing === t.id ? null : t.id);
                        }}
                      >
                        Remove {t.full_name}
                      </button>
                    </span>
                  ) : (
                    <span className="badge">{t.role}</span>
                  )}
                  {removing === t.id ? (
                    <ConfirmByTyping
                      label={`Confirm removing ${t.full_name}`}
                      accepts={[t.full_name, t.email]}
                      action={`Remove ${t.full_name}`}
                      busy={removeBusy}
                      error={removeError}
                      onConfirm={() => void remove(t)}
                      onCancel={() => setRemoving(null)}
                      testId="confirm-remove-teammate"
                    >
                      <p>
                        Remove <strong>{t.full_name}</strong> ({t.email}) from the workspace? They are signed out at
                        once, the chats they are responsible for become unassigned, and the accounts they connected pass
                        to the workspace's owner. Their messages stay.
                      </p>
                    </ConfirmByTyping>
                  ) : null}
                </li>
              ))}
            </ul>
          ) : null}
          {admin && invitations.data && invitations.data.length > 0 ? (
            <>
              <h3>Invited</h3>
              <ul className="people" aria-label="Open invitations">
                {invitations.data.map((inv) => (
                  <li key={inv.id} className="person">
                    <span>
                      <span className="person-name">{inv.full_name}</span>
                      <span className="muted block small">
                        {inv.email} · {inv.role} · until {formatDateTime(inv.expires_at, tz)}
                      </span>
                    </span>
                    <button type="button" className="btn btn-ghost btn-small" onClick={() => void withdraw(inv)}>
                      Withdraw
                    </button>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        {admin ? (
          <section className="card" aria-labelledby="add-teammate-title">
            <h2 id="add-teammate-title">Invite a teammate</h2>
            <form onSubmit={submit} noValidate data-testid="add-teammate-form">
              <div className="field">
                <label htmlFor="tm-name">Full name</label>
                <input
                  ref={nameRef}
                  id="tm-name"
                  autoComplete="off"
                  value={fullName}
                  onChange={(e) => setFullName(e.target.value)}
                  aria-invalid={errors.full_name ? true : undefined}
                  aria-describedby={errors.full_name ? "tm-name-error" : undefined}
                />
                <FieldError id="tm-name-error" message={errors.full_name} />
              </div>
              <div className="field">
                <label htmlFor="tm-email">Email</label>
                <input
                  ref={emailRef}
                  id="tm-email"
                  type="email"
                  autoComplete="off"
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                  aria-invalid={errors.email ? true : undefined}
                  aria-describedby={errors.email ? "tm-email-error" : undefined}
                />
                <FieldError id="tm-email-error" message={errors.email} />
              </div>
              <div className="field">
                <label htmlFor="tm-role">Role</label>
                <select
                  id="tm-role"
                  value={role}
                  onChange={(e) => setRole(e.target.value as Role)}
                  aria-describedby="tm-role-hint"
                >
                  {(owner ? (["member", "admin", "owner"] as const) : (["member", "admin"] as const)).map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
                <p className="hint" id="tm-role-hint">
                  {role}: {ROLE_HELP[role]}.
                </p>
                <FieldError id="tm-role-error" message={errors.role} />
              </div>
              <button type="submit" className="btn btn-primary" disabled={busy}>
                {busy ? "Inviting…" : "Send invitation"}
              </button>
              {errors.form ? <Alert>{errors.form}</Alert> : null}
              {invited?.url ? (
                <Alert kind="success" testId="invitation-sent">
                  Invitation e-mailed to {invited.email}. The link works once, within 7 days:{" "}
                  <code data-testid="invitation-url">{invited.url}</code>{" "}
                  <CopyButton value={invited.url} label="Copy link" />
                </Alert>
              ) : null}
            </form>
          </section>
        ) : null}
      </div>
    </div>
  );
}
