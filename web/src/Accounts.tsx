import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError, errorMessage, fieldOf, listAll } from "./api.js";
import type { Account, Source, Teammate } from "./types.js";
import { DisconnectedBanners } from "./Disconnected.js";
import {
  Alert,
  ConfirmByTyping,
  CopyButton,
  Empty,
  FieldError,
  Link,
  Loading,
  formatDateTime,
  useCan,
  useDocumentTitle,
  useLoad,
  useTimezone,
} from "./ui.js";

interface ConfigField {
  name: string;
  label: string;
  required: boolean;
  secret?: boolean;
  placeholder?: string;
  hint?: string;
}

const SOURCES: { value: Source; label: string; fields: ConfigField[] }[] = [
  { value: "api", label: "API — messages posted to POST /api/v1/messages", fields: [] },
  {
    value: "cloud_api",
    label: "WhatsApp Cloud API (Meta)",
    fields: [
      {
        name: "phone_number_id",
        label: "Phone number ID",
        required: true,
        placeholder: "106540352242922",
        hint: "App dashboard → WhatsApp → API Setup.",
      },
      {
        name: "app_secret",
        label: "App secret",
        required: true,
        secret: true,
        hint: "App settings → Basic. Checks Meta's X-Hub-Signature-256.",
      },
      {
        name: "verify_token",
        label: "Verify token",
        required: true,
        hint: "Any string you choose; you enter the same one in Meta's webhook settings.",
      },
      {
        name: "access_token",
        label: "Access token",
        required: true,
        secret: true,
        hint: "A system user token with whatsapp_business_messaging; used to send.",
      },
      {
        name: "graph_base_url",
        label: "Graph API base URL (optional)",
        required: false,
        placeholder: "https://graph.facebook.com/v21.0",
      },
    ],
  },
  {
    value: "waha",
    label: "WAHA (WhatsApp HTTP API)",
    fields: [
      { name: "base_url", label: "WAHA base URL", required: true, placeholder: "http://waha.internal:3000" },
      { name: "api_key", label: "WAHA API key", required: true, secret: true },
      { name: "session", label: "Session name", required: true, placeholder: "default" },
      {
        name: "hmac_key",
        label: "HMAC key (optional)",
        required: false,
        secret: true,
        hint: "When set, Threadline checks WAHA's X-Webhook-Hmac header.",
      },
    ],
  },
  {
    value: "evolution",
    label: "Evolution API",
    fields: [
      { name: "base_url", label: "Evolution base URL", required: true, placeholder: "https://evolution.example.com" },
      {
        name: "api_key",
        label: "Evolution API key",
        required: true,
        secret: true,
        hint: "Evolution sends it back in the apikey header of its webhooks.",
      },
      { name: "instance", label: "Instance name", required: true, placeholder: "sales" },
    ],
  },
];

const SOURCE_SHORT: Record<string, string> = {
  api: "API",
  cloud_api: "Cloud API (Meta)",
  waha: "WAHA",
  evolution: "Evolution API",
};

const E164 = /^\+[1-9]\d{6,14}$/;

export function AccountsPage() {
  const admin = useCan("admin");
  useDocumentTitle("Accounts");
  const tz = useTimezone();
  const accounts = useLoad(() => listAll<Account>("/api/v1/accounts"), []);
  const teammates = useLoad(() => listAll<Teammate>("/api/v1/teammates"), []);
  const [created, setCreated] = useState<Account>();
  const [open, setOpen] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [deleted, setDeleted] = useState<string>();

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>WhatsApp accounts</h1>
          <p className="muted">The numbers whose conversations Threadline records and forwards.</p>
        </div>
      </div>

      {accounts.data ? <DisconnectedBanners accounts={accounts.data} tz={tz} /> : null}
      {created ? <Connected account={created} onClose={() => setCreated(undefined)} /> : null}

      <section className="card" aria-labelledby="accounts-title">
        <h2 id="accounts-title">Connected accounts</h2>
        {accounts.error ? <Alert>Could not load the accounts: {accounts.error}</Alert> : null}
        {deleted ? (
          <Alert kind="success" testId="account-deleted">
            The account {deleted} was deleted.
          </Alert>
        ) : null}
        {accounts.loading && !accounts.data ? <Loading label="Loading accounts…" /> : null}
        {accounts.data && accounts.data.length === 0 ? (
          <Empty title="No accounts yet">Connect your first WhatsApp number with the form below.</Empty>
        ) : null}
        {accounts.data && accounts.data.length > 0 ? (
          <div className="table-wrap">
            <table className="table" data-testid="accounts-table">
              <thead>
                <tr>
                  <th scope="col">Phone</th>
                  <th scope="col">Connected by</th>
                  <th scope="col" className="wide-only">
                    Source
                  </th>
                  <th scope="col" className="wide-only">
                    Added
                  </th>
                  <th scope="col">
                    <span className="sr-only">Setup</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {accounts.data.map((a) => (
                  <AccountRow
                    key={a.id}
                    account={a}
                    tz={tz}
                    open={open === a.id}
                    onToggle={() => setOpen(open === a.id ? null : a.id)}
                    deleting={admin && deleting === a.id}
                    onDelete={admin ? () => setDeleting(deleting === a.id ? null : a.id) : undefined}
                    onDeleted={() => {
                      accounts.setData((list) => (list ?? []).filter((x) => x.id !== a.id));
                      setDeleting(null);
                      setDeleted(a.phone);
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>

      {/* Connecting an account is an admin's (members read the list). */}
      {admin ? (
        <ConnectForm
          teammates={teammates.data}
          teammatesError={teammates.error}
          onCreated={(a) => {
            accounts.setData((list) => [a, ...(list ?? []).filter((x) => x.id !== a.id)]);
            setCreated(a);
            window.scrollTo({ top: 0, behavior: "smooth" });
          }}
        />
      ) : null}
    </div>
  );
}

function AccountRow({
  account: a,
  tz,
  open,
  onToggle,
  deleting,
  onDelete,
  onDeleted,
}: {
  account: Account;
  tz?: string;
  open: boolean;
  onToggle: () => void;
  deleting: boolean;
  onDelete?: () => void;
  onDeleted: () => void;
}) {
  return (
    <>
      <tr>
        <td className="mono account-phone">
          {a.phone}
          <span className="phone-only">
            <span className="badge badge-neutral">{SOURCE_SHORT[a.source] ?? a.source}</span>
          </span>
        </td>
        <td className="account-owner">
          {a.full_name}
          <span className="muted block small">{a.email}</span>
          <span className="muted block small phone-only">
            Added {a.created_at ? formatDateTime(a.created_at, tz) : "—"}
          </span>
        </td>
        <td className="wide-only">
          <span className="badge badge-neutral">{SOURCE_SHORT[a.source] ?? a.source}</span>
        </td>
        <td className="muted wide-only">{a.created_at ? formatDateTime(a.created_at, tz) : "—"}</td>
        <td className="right">
          <span className="account-actions">
            <button
              type="button"
              className="btn btn-link"
              aria-expanded={open}
              aria-controls={`setup-${a.id}`}
              onClick={onToggle}
            >
              {open ? "Hide setup" : "Setup"}
              <span className="sr-only"> for {a.phone}</span>
            </button>
            {onDelete ? (
              <button
                type="button"
                className="btn btn-link btn-link-danger"
                aria-expanded={deleting}
                aria-controls={`delete-${a.id}`}
                onClick={onDelete}
              >
                Delete
                <span className="sr-only"> {a.phone}</span>
              </button>
            ) : null}
          </span>
        </td>
      </tr>
      {deleting ? (
        <tr className="setup-row" id={`delete-${a.id}`}>
          <td colSpan={5}>
            <DeleteAccount account={a} onCancel={onDelete!} onDeleted={onDeleted} />
          </td>
        </tr>
      ) : null}
      {open ? (
        <tr className="setup-row" id={`setup-${a.id}`}>
          <td colSpan={5}>
            <SetupSteps account={a} where="row" />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** Deleting an account, confirmed by typing its phone number; its chats and messages stay unless "purge" is ticked. */
function DeleteAccount({
  account: a,
  onCancel,
  onDeleted,
}: {
  account: Account;
  onCancel: () => void;
  onDeleted: () => void;
}) {
  const [purge, setPurge] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api("DELETE", `/api/v1/accounts/${encodeURIComponent(a.id)}${purge ? "?purge=true" : ""}`);
      onDeleted();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <ConfirmByTyping
      label={`Confirm deleting the account ${a.phone}`}
      accepts={[a.phone]}
      action={purge ? "Delete account, chats and messages" : "Delete the account"}
      busy={busy}
      error={error}
      onConfirm={() => void confirm()}
      onCancel={onCancel}
      testId="confirm-delete-account"
    >
      <p>
        Delete the account <strong className="mono">{a.phone}</strong>? Its inbound URL stops working at once and
        nothing more is sent or received through it.
      </p>
      <label className="check">
        <input type="checkbox" checked={purge} onChange={(e) => setPurge(e.target.checked)} data-testid="purge" />
        <span>
          Also delete its chats and messages.{" "}
          {purge ? (
            <strong>
              They are deleted for good, with their assignments; webhooks never get the ones they have not received yet.
            </strong>
          ) : (
            <span className="muted">Unticked, they stay in the Timeline and the webhooks still deliver them.</span>
          )}
        </span>
      </label>
    </ConfirmByTyping>
  );
}

function Connected({ account, onClose }: { account: Account; onClose: () => void }) {
  return (
    <section className="card card-success" aria-labelledby="connected-title" data-testid="account-created">
      <div className="card-head-row">
        <h2 id="connected-title">Account {account.phone} connected</h2>
        <button type="button" className="btn btn-ghost btn-small" onClick={onClose}>
          Close
        </button>
      </div>
      <SetupSteps account={account} where="created" />
    </section>
  );
}

function InboundUrl({ url, id }: { url: string; id: string }) {
  return (
    <div className="field">
      <label htmlFor={id}>Inbound URL</label>
      <div className="input-row">
        <input
          id={id}
          readOnly
          value={url}
          className="mono"
          onFocus={(e) => e.target.select()}
          data-testid="inbound-url"
        />
        <CopyButton value={url} />
      </div>
      <p className="hint">Treat this URL as a password: anyone who has it can post messages to this account.</p>
    </div>
  );
}

function SetupSteps({ account, where }: { account: Account; where: "created" | "row" }) {
  const url = account.inbound_url ?? "";
  const steps: Record<Source, ReactNode> = {
    api: (
      <ol className="steps">
        <li>
          Post messages to <code>POST /api/v1/messages</code> with{" "}
          <code>Authorization: Bearer &lt;workspace API key&gt;</code>.
        </li>
        <li>
          Set <code>"account_phone": "{account.phone}"</code> in each message.
        </li>
        <li>
          Add an outgoing webhook on the <Link to="/webhooks">Webhooks</Link> page to receive them.
        </li>
      </ol>
    ),
    cloud_api: (
      <ol className="steps">
        <li>
          In the Meta App dashboard, open <strong>WhatsApp → Configuration</strong>.
        </li>
        <li>
          Set <strong>Callback URL</strong> to the inbound URL above and <strong>Verify token</strong> to the verify
          token you entered here, then verify and save.
        </li>
        <li>
          Under <strong>Webhook fields</strong>, subscribe to <code>messages</code> and <code>smb_message_echoes</code>.
        </li>
      </ol>
    ),
    waha: (
      <ol className="steps">
        <li>
          In the WAHA session configuration, add a webhook with <strong>url</strong> = the inbound URL above.
        </li>
        <li>
          Set its <strong>events</strong> to <code>message.any</code>.
        </li>
        <li>Optionally set the webhook's HMAC key to the same HMAC key you entered here.</li>
      </ol>
    ),
    evolution: (
      <ol className="steps">
        <li>
          In Evolution API, set the instance's webhook <strong>url</strong> to the inbound URL above.
        </li>
        <li>
          Enable the <code>MESSAGES_UPSERT</code> event.
        </li>
        <li>Threadline checks the apikey header of each call against the API key entered here.</li>
      </ol>
    ),
  };
  return (
    <div className="setup" data-testid="setup-steps">
      {account.source !== "api" ? (
        url ? (
          <InboundUrl url={url} id={`inbound-${where}-${account.id}`} />
        ) : (
          <Alert kind="warning">The server did not return an inbound URL for this account.</Alert>
        )
      ) : null}
      <h3 className="section-title">Setup — {SOURCE_SHORT[account.source] ?? account.source}</h3>
      {steps[account.source] ?? null}
    </div>
  );
}

type Errors = Record<string, string | undefined>;

function ConnectForm({
  teammates,
  teammatesError,
  onCreated,
}: {
  teammates: Teammate[] | undefined;
  teammatesError?: string;
  onCreated: (a: Account) => void;
}) {
  const [phone, setPhone] = useState("");
  const [owner, setOwner] = useState("");
  const [source, setSource] = useState<Source>("api");
  const [config, setConfig] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const def = SOURCES.find((s) => s.value === source)!;
  const ownerValue = owner || teammates?.[0]?.email || "";

  const focusFirstError = (errs: Errors) => {
    window.setTimeout(() => {
      const first = Object.keys(errs).find((k) => errs[k]);
      if (!first) return;
      const el = formRef.current?.querySelector<HTMLElement>(`[data-field="${first}"]`);
      el?.focus();
    }, 0);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errs: Errors = {};
    const p = phone.trim().replace(/[\s()-]/g, "");
    if (!p) errs.phone = "Enter the account's phone number.";
    else if (!E164.test(p))
      errs.phone = "Use the international E.164 format: + then country code and number, e.g. +972500000000.";
    if (!ownerValue) errs.owner_email = "Choose the teammate who connects this account (add teammates first).";
    for (const f of def.fields)
      if (f.required && !config[f.name]?.trim()) errs[f.name] = `${f.label} is required for ${SOURCE_SHORT[source]}.`;
    if (Object.keys(errs).length) {
      setErrors(errs);
      focusFirstError(errs);
      return;
    }
    const sourceConfig: Record<string, string> = {};
    for (const f of def.fields) {
      const v = config[f.name]?.trim();
      if (v) sourceConfig[f.name] = v;
    }
    setBusy(true);
    setErrors({});
    try {
      const body: Record<string, unknown> = { phone: p, owner_email: ownerValue, source };
      if (source !== "api") body.source_config = sourceConfig;
      const a = await api<Account>("POST", "/api/v1/accounts", body);
      onCreated(a);
      setPhone("");
      setConfig({});
    } catch (err) {
      const names = ["phone", "owner_email", "source", ...def.fields.map((f) => f.name)];
      // A conflict is about the phone (that account is already connected).
      const f = fieldOf(err, names) ?? (err instanceof ApiError && err.status === 409 ? "phone" : undefined);
      const next = f ? { [f]: errorMessage(err) } : { form: errorMessage(err) };
      setErrors(next);
      focusFirstError(next);
    } finally {
      setBusy(false);
    }
  };

  const fieldProps = (name: string) => ({
    "data-field": name,
    "aria-invalid": errors[name] ? true : undefined,
    "aria-describedby": errors[name] ? `acc-${name}-error` : undefined,
  });

  return (
    <section className="card" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect a WhatsApp account</h2>
      {teammatesError ? <Alert>Could not load the teammates: {teammatesError}</Alert> : null}
      <form ref={formRef} onSubmit={submit} noValidate className="form-grid" data-testid="connect-account-form">
        <div className="field">
          <label htmlFor="acc-phone">WhatsApp phone number</label>
          <input
            id="acc-phone"
            type="tel"
            inputMode="tel"
            placeholder="+972500000000"
            value={phone}
            onChange={(e) => setPhone(e.target.value)}
            autoComplete="off"
            {...fieldProps("phone")}
          />
          <p className="hint">E.164: + country code and number.</p>
          <FieldError id="acc-phone-error" message={errors.phone} />
        </div>
        <div className="field">
          <label htmlFor="acc-owner">Owner (teammate)</label>
          <select
            id="acc-owner"
            value={ownerValue}
            onChange={(e) => setOwner(e.target.value)}
            disabled={!teammates}
            {...fieldProps("owner_email")}
          >
            {teammates && teammates.length === 0 ? <option value="">No teammates yet</option> : null}
            {(teammates ?? []).map((t) => (
              <option key={t.email} value={t.email}>
                {t.full_name} ({t.email})
              </option>
            ))}
          </select>
          <p className="hint">
            Their name and e-mail appear as <code>whatsapp_account</code> in payloads.{" "}
            <Link to="/teammates">Manage teammates</Link>
          </p>
          <FieldError id="acc-owner_email-error" message={errors.owner_email} />
        </div>
        <div className="field span-2">
          <label htmlFor="acc-source">Source</label>
          <select
            id="acc-source"
            value={source}
            onChange={(e) => {
              setSource(e.target.value as Source);
              setErrors({});
            }}
            {...fieldProps("source")}
          >
            {SOURCES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
          <FieldError id="acc-source-error" message={errors.source} />
        </div>
        {def.fields.length > 0 ? (
          <fieldset className="span-2 fieldset">
            <legend>{SOURCE_SHORT[source]} settings</legend>
            <div className="form-grid">
              {def.fields.map((f) => (
                <div className="field" key={`${source}-${f.name}`}>
                  <label htmlFor={`acc-${f.name}`}>{f.label}</label>
                  <input
                    id={`acc-${f.name}`}
                    type={f.secret ? "password" : f.name.endsWith("url") ? "url" : "text"}
                    autoComplete={f.secret ? "new-password" : "off"}
                    spellCheck={false}
                    placeholder={f.placeholder}
                    value={config[f.name] ?? ""}
                    onChange={(e) => setConfig((c) => ({ ...c, [f.name]: e.target.value }))}
                    {...fieldProps(f.name)}
                  />
                  {f.hint ? <p className="hint">{f.hint}</p> : null}
                  <FieldError id={`acc-${f.name}-error`} message={errors[f.name]} />
                </div>
              ))}
            </div>
          </fieldset>
        ) : null}
        <div className="span-2 btn-row">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Connecting…" : "Connect account"}
          </button>
        </div>
        {errors.form ? (
          <div className="span-2">
            <Alert>{errors.form}</Alert>
          </div>
        ) : null}
      </form>
    </section>
  );
}
