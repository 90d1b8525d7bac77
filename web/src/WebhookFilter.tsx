import { useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, fieldOf, listAll } from "./api.js";
import type { Account, Teammate, Webhook, WebhookFilter as Filter } from "./types.js";
import { FieldError, useLoad } from "./ui.js";

const DEFAULT_FILTER: Filter = { direction: "both", accounts: null, chats: "both", responsible: null };
const FIELDS = ["filter.direction", "filter.accounts", "filter.chats", "filter.responsible"] as const;

const DIRECTIONS: readonly { value: Filter["direction"]; label: string }[] = [
  { value: "both", label: "Received and sent" },
  { value: "received", label: "Received only" },
  { value: "sent", label: "Sent only" },
];
const CHATS: readonly { value: Filter["chats"]; label: string }[] = [
  { value: "both", label: "Direct and group chats" },
  { value: "direct", label: "Direct chats only" },
  { value: "group", label: "Group chats only" },
];

/** "Everything", or what the filter keeps, in a line for the card. */
export function describeFilter(f: Filter | undefined): string {
  if (!f) return "Everything";
  const parts = [
    f.direction === "both" ? "" : DIRECTIONS.find((d) => d.value === f.direction)!.label,
    f.chats === "both" ? "" : CHATS.find((c) => c.value === f.chats)!.label,
    f.accounts ? `${f.accounts.length} account${f.accounts.length === 1 ? "" : "s"}` : "",
    f.responsible ? `assigned to ${f.responsible.join(", ")}` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : "Everything";
}

const same = (a: Filter, b: Filter) => JSON.stringify(a) === JSON.stringify(b);

/** The webhook's filter on its card: which messages it gets, edited and saved with one PATCH. */
export function WebhookFilterEditor({ webhook: w, onSaved }: { webhook: Webhook; onSaved: (w: Webhook) => void }) {
  const id = `wh-${w.id}-filter`;
  const saved = w.filter ?? DEFAULT_FILTER;
  const [draft, setDraft] = useState<Filter>(saved);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<(typeof FIELDS)[number] | "form", string>>>({});
  const choices = useLoad(async () => {
    const [accounts, teammates] = await Promise.all([
      listAll<Account>("/api/v1/accounts"),
      listAll<Teammate>("/api/v1/teammates"),
    ]);
    return { accounts, teammates };
  }, [w.id]);
  const savedKey = JSON.stringify(saved);
  // A change saved elsewhere (the card polls the webhook) replaces the draft.
  useEffect(() => setDraft(JSON.parse(savedKey) as Filter), [savedKey]);

  const set = (patch: Partial<Filter>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setDone(false);
    setErrors({});
  };
  const toggle = (list: string[] | null, value: string, on: boolean): string[] => {
    const cur = list ?? [];
    return on ? [...cur.filter((x) => x !== value), value] : cur.filter((x) => x !== value);
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const local: typeof errors = {};
    if (draft.accounts && draft.accounts.length === 0)
      local["filter.accounts"] = "Choose at least one account, or all accounts.";
    if (draft.responsible && draft.responsible.length === 0)
      local["filter.responsible"] = "Choose at least one teammate, or any teammate.";
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    setDone(false);
    try {
      const updated = await api<Webhook>("PATCH", `/api/v1/webhooks/${w.id}`, { filter: draft });
      onSaved(updated);
      setDraft(updated.filter);
      setDone(true);
    } catch (err) {
      const f = fieldOf(err, FIELDS);
      setErrors({ [f ?? "form"]: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const accounts = choices.data?.accounts ?? [];
  const teammates = choices.data?.teammates ?? [];
  return (
    <form
      className="fieldset webhook-filter"
      onSubmit={save}
      noValidate
      aria-labelledby={`${id}-title`}
      data-testid="webhook-filter"
    >
      <p className="label" id={`${id}-title`}>
        Filter{" "}
        <span className="muted" data-testid="webhook-filter-summary">
          — {describeFilter(saved)}
        </span>
      </p>
      <div className="form-grid">
        <div className="field">
          <label htmlFor={`${id}-direction`}>Messages</label>
          <select
            id={`${id}-direction`}
            value={draft.direction}
            onChange={(e) => set({ direction: e.target.value as Filter["direction"] })}
            data-testid="webhook-filter-direction"
          >
            {DIRECTIONS.map((d) => (
              <option key={d.value} value={d.value}>
                {d.label}
              </option>
            ))}
          </select>
          <FieldError id={`${id}-direction-error`} message={errors["filter.direction"]} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-chats`}>Chats</label>
          <select
            id={`${id}-chats`}
            value={draft.chats}
            onChange={(e) => set({ chats: e.target.value as Filter["chats"] })}
            data-testid="webhook-filter-chats"
          >
            {CHATS.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
          <FieldError id={`${id}-chats-error`} message={errors["filter.chats"]} />
        </div>
        <fieldset
          className="field filter-choices"
          aria-describedby={errors["filter.accounts"] ? `${id}-accounts-error` : undefined}
        >
          <legend className="label">Accounts</legend>
          <label className="check">
            <input
              type="checkbox"
              checked={draft.accounts === null}
              onChange={(e) => set({ accounts: e.target.checked ? null : [] })}
              data-testid="webhook-filter-all-accounts"
            />
            All accounts
          </label>
          {draft.accounts !== null
            ? accounts.map((a) => (
                <label className="check" key={a.id}>
                  <input
                    type="checkbox"
                    checked={draft.accounts!.includes(a.phone)}
                    onChange={(e) => set({ accounts: toggle(draft.accounts, a.phone, e.target.checked) })}
                  />
                  {a.phone}
                </label>
              ))
            : null}
          <FieldError id={`${id}-accounts-error`} message={errors["filter.accounts"]} />
        </fieldset>
        <fieldset
          className="field filter-choices"
          aria-describedby={errors["filter.responsible"] ? `${id}-responsible-error` : undefined}
        >
          <legend className="label">Responsible teammate</legend>
          <label className="check">
            <input
              type="checkbox"
              checked={draft.responsible === null}
              onChange={(e) => set({ responsible: e.target.checked ? null : [] })}
              data-testid="webhook-filter-any-teammate"
            />
            Any (assigned or not)
          </label>
          {draft.responsible !== null
            ? teammates.map((t) => (
                <label className="check" key={t.id}>
                  <input
                    type="checkbox"
                    checked={draft.responsible!.includes(t.email.toLowerCase())}
                    onChange={(e) =>
                      set({ responsible: toggle(draft.responsible, t.email.toLowerCase(), e.target.checked) })
                    }
                  />
                  {t.full_name} ({t.email})
                </label>
              ))
            : null}
          <FieldError id={`${id}-responsible-error`} message={errors["filter.responsible"]} />
        </fieldset>
      </div>
      <p className="hint">
        Applies to messages not yet delivered. Excluded messages are skipped, not counted as deliveries or errors.
      </p>
      {choices.error ? <FieldError id={`${id}-load-error`} message={choices.error} /> : null}
      <FieldError id={`${id}-form-error`} message={errors.form} />
      <div className="btn-row">
        <button
          type="submit"
          className="btn btn-secondary btn-small"
          disabled={busy || same(draft, saved)}
          data-testid="webhook-filter-save"
        >
          {busy ? "Saving…" : "Save filter"}
        </button>
        {!same(draft, saved) && !busy ? (
          <button type="button" className="btn btn-secondary btn-small" onClick={() => setDraft(saved)}>
            Cancel
          </button>
        ) : null}
      </div>
      {done ? (
        <p className="saved" role="status">
          Filter saved.
        </p>
      ) : null}
    </form>
  );
}
