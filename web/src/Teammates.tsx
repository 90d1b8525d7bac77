import { useRef, useState, type FormEvent } from "react";
import { api, errorMessage, fieldOf, listAll } from "./api.js";
import type { Teammate } from "./types.js";
import { Alert, Empty, FieldError, Loading, initials, useDocumentTitle, useLoad } from "./ui.js";

export function TeammatesPage() {
  useDocumentTitle("Teammates");
  const list = useLoad(() => listAll<Teammate>("/api/v1/teammates"), []);
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [errors, setErrors] = useState<{ full_name?: string; email?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<string>();
  const nameRef = useRef<HTMLInputElement>(null);
  const emailRef = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errs: typeof errors = {};
    if (!fullName.trim()) errs.full_name = "Enter the teammate's full name.";
    if (!email.trim()) errs.email = "Enter the teammate's e-mail address.";
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) errs.email = "Enter a valid e-mail address, like name@company.com.";
    setAdded(undefined);
    if (errs.full_name || errs.email) {
      setErrors(errs);
      (errs.full_name ? nameRef : emailRef).current?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const t = await api<Teammate>("POST", "/api/v1/teammates", { full_name: fullName.trim(), email: email.trim() });
      list.setData((l) => [...(l ?? []).filter((x) => x.id !== t.id), t]);
      setAdded(`${t.full_name} was added.`);
      setFullName("");
      setEmail("");
      nameRef.current?.focus();
    } catch (err) {
      const f = fieldOf(err, ["full_name", "email"]);
      setErrors(f ? { [f]: errorMessage(err) } : { form: errorMessage(err) });
      (f === "full_name" ? nameRef : emailRef).current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Teammates</h1>
          <p className="muted">People who connect accounts, send messages from Threadline and are responsible for chats.</p>
        </div>
      </div>
      <div className="two-col">
        <section className="card" aria-labelledby="teammates-title">
          <h2 id="teammates-title">Team</h2>
          {list.error ? <Alert>Could not load the teammates: {list.error}</Alert> : null}
          {list.loading && !list.data ? <Loading label="Loading teammates…" /> : null}
          {list.data && list.data.length === 0 ? <Empty title="No teammates yet" /> : null}
          {list.data && list.data.length > 0 ? (
            <ul className="people" aria-label="Teammates" data-testid="teammates-list">
              {list.data.map((t) => (
                <li key={t.id} className="person">
                  <span className="avatar" aria-hidden="true">
                    {initials(t.full_name)}
                  </span>
                  <span>
                    <span className="person-name">{t.full_name}</span>
                    <span className="muted block small">{t.email}</span>
                  </span>
                </li>
              ))}
            </ul>
          ) : null}
        </section>
        <section className="card" aria-labelledby="add-teammate-title">
          <h2 id="add-teammate-title">Add a teammate</h2>
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
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? "Adding…" : "Add teammate"}
            </button>
            {errors.form ? <Alert>{errors.form}</Alert> : null}
            {added ? <Alert kind="success">{added}</Alert> : null}
          </form>
        </section>
      </div>
    </div>
  );
}
