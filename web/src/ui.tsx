import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
  type ReactNode,
  type MouseEvent,
} from "react";
import { errorMessage } from "./api.js";
import { navigate } from "./router.js";
import type { Me, Role, Workspace } from "./types.js";

export const WorkspaceContext = createContext<Workspace | null>(null);
/** The signed-in person: the UI offers only what their role can do (the server enforces it). */
export const MeContext = createContext<Me | null>(null);

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };

/** Whether the signed-in person's role can do what `needed` may (owner ⊃ admin ⊃ member). */
export function useCan(needed: Role): boolean {
  const me = useContext(MeContext);
  return me !== null && RANK[me.role] >= RANK[needed];
}

export function useTimezone(): string | undefined {
  const tz = useContext(WorkspaceContext)?.timezone;
  return tz && validZone(tz) ? tz : undefined;
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The zone times are shown in: the workspace's, else the viewer's own (named either way). */
export function zoneName(tz?: string): string {
  return tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
}

/** A date and time that says its zone: "29 Nov 2026, 09:30 (Europe/Paris)". */
export function formatDateTime(iso: string | null | undefined, tz?: string): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: tz }).format(d)} (${zoneName(tz)})`;
}

/** Says once, beside times of day shown without a date (messages, the chart), which zone they are in. */
export function ZoneNote({ tz, className = "zone-note muted small" }: { tz?: string; className?: string }) {
  return (
    <p className={className} data-testid="time-zone">
      Times in {zoneName(tz)}
    </p>
  );
}

export function formatTime(iso: string, tz?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: tz }).format(d);
}

export function formatDay(iso: string, tz?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: tz,
  }).format(d);
}

export function formatRelative(iso: string | null | undefined, tz?: string): string {
  if (!iso) return "—";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((Date.now() - t) / 1000);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (Math.abs(s) < 5) return "just now";
  // A retry 16 s ahead reads "in 16 seconds", never "just now".
  if (Math.abs(s) < 60) return rtf.format(-s, "second");
  if (Math.abs(s) < 3600) return rtf.format(-Math.round(s / 60), "minute");
  if (Math.abs(s) < 86400) return rtf.format(-Math.round(s / 3600), "hour");
  if (Math.abs(s) < 7 * 86400) return rtf.format(-Math.round(s / 86400), "day");
  return formatDateTime(iso, tz);
}

/** An in-app link: plain left clicks navigate with the history API. */
export function Link(props: {
  to: string;
  children: ReactNode;
  className?: string;
  current?: boolean;
  title?: string;
  "data-testid"?: string;
}) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a
      href={props.to}
      onClick={onClick}
      className={props.className}
      aria-current={props.current ? "page" : undefined}
      title={props.title}
      data-testid={props["data-testid"]}
    >
      {props.children}
    </a>
  );
}

export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p className="field-error" id={id} role="alert">
      {message}
    </p>
  );
}

export function Alert({
  kind = "error",
  children,
  testId,
}: {
  kind?: "error" | "success" | "info" | "warning";
  children: ReactNode;
  testId?: string;
}) {
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"} data-testid={testId}>
      {children}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <div className="empty-body">{children}</div> : null}
    </div>
  );
}

export function CopyButton({
  value,
  label = "Copy",
  className,
}: {
  value: string;
  label?: string;
  className?: string;
}) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = async () => {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(value);
      else legacyCopy(value);
      setState("copied");
    } catch {
      try {
        legacyCopy(value);
        setState("copied");
      } catch {
        setState("failed");
      }
    }
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState("idle"), 2000);
  };
  return (
    <button type="button" className={className ?? "btn btn-secondary btn-small"} onClick={copy} aria-live="polite">
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed — select and copy" : label}
    </button>
  );
}

function legacyCopy(value: string): void {
  const ta = document.createElement("textarea");
  ta.value = value;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand("copy");
  document.body.removeChild(ta);
  if (!ok) throw new Error("copy failed");
}

/** Loads data for a component; `reload` re-runs the loader, `setData` updates it in place. */
export function useLoad<T>(loader: () => Promise<T>, deps: readonly unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const load = useCallback(loader, deps);
  const reload = useCallback(
    async (quiet = false) => {
      const n = ++seq.current;
      if (!quiet) setLoading(true);
      try {
        const v = await load();
        if (n === seq.current) {
          setData(v);
          setError(undefined);
        }
      } catch (e) {
        if (n === seq.current && !quiet) setError(errorMessage(e));
      } finally {
        if (n === seq.current) setLoading(false);
      }
    },
    [load],
  );
  useEffect(() => {
    setData(undefined);
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

/** Runs `fn` every `ms` while the page is visible. */
export function useInterval(fn: () => void, ms: number | null): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") saved.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [ms]);
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Threadline` : "Threadline";
  }, [title]);
}

/** The avatar of a chat: a group shows the group glyph (initials of "Customers 1" read "C1"), a person their initials. */
export function ChatAvatar({ name, group, large = false }: { name: string; group: boolean; large?: boolean }) {
  return (
    <span className={`avatar ${large ? "avatar-lg" : ""} ${group ? "avatar-group" : ""}`} aria-hidden="true">
      {group ? (
        <svg viewBox="0 0 24 24" width="20" height="20" fill="currentColor" focusable="false">
          <circle cx="9" cy="8" r="3.2" />
          <circle cx="16.5" cy="9" r="2.6" />
          <path d="M2.5 19c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6v1h-13z" />
          <path d="M15.2 13.3c3.3-.3 6.3 1.7 6.3 5.2v1.5h-4.5v-1c0-2.3-.7-4.2-1.8-5.7z" />
        </svg>
      ) : (
        initials(name)
      )}
    </span>
  );
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return "?";
  const first = parts[0]!.charAt(0);
  const last = parts.length > 1 ? parts[parts.length - 1]!.charAt(0) : "";
  return (first + last).toUpperCase();
}

/**
 * A modal dialog (the native `<dialog>`, shown as a modal while mounted): its title in the
 * head, with `headExtra` beside it. Escape closes it natively; `onCancel` keeps React's state
 * in step through `onClose`.
 */
export function ModalDialog({
  title,
  className,
  testId,
  headExtra,
  onClose,
  children,
}: {
  title: ReactNode;
  className?: string;
  testId?: string;
  headExtra?: ReactNode;
  onClose: () => void;
  children: ReactNode;
}) {
  const titleId = useId();
  const dialogRef = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialogRef.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog
      ref={dialogRef}
      className={className ? `delivery-dialog ${className}` : "delivery-dialog"}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      data-testid={testId}
    >
      <div className="delivery-dialog-head">
        <h2 id={titleId}>{title}</h2>
        {headExtra}
      </div>
      {children}
    </dialog>
  );
}

/**
 * A question asked in place, before a change that cannot be taken back: what will happen,
 * the danger button (focused, its busy wording while it runs) and Cancel.
 */
export function InlineConfirm({
  label,
  testId,
  action,
  busyAction,
  busy,
  onConfirm,
  onCancel,
  error,
  children,
}: {
  label: string;
  testId?: string;
  /** A failure of the change, said under the buttons. */
  error?: string | null;
  action: string;
  busyAction: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  return (
    <div className="confirm" role="group" aria-label={label} data-testid={testId}>
      {children}
      <div className="btn-row">
        <button type="button" className="btn btn-danger btn-small" onClick={onConfirm} disabled={busy} autoFocus>
          {busy ? busyAction : action}
        </button>
        <button type="button" className="btn btn-secondary btn-small" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
    </div>
  );
}

/**
 * A deletion confirmed by typing what is deleted (an account's phone, a person's name or
 * e-mail): the button stays disabled until the text matches one of `accepts` (the first is
 * the one shown; compared without regard to case or surrounding spaces).
 */
export function ConfirmByTyping({
  label,
  accepts,
  action,
  busy,
  error,
  onConfirm,
  onCancel,
  children,
  testId,
}: {
  label: string;
  accepts: string[];
  action: string;
  busy: boolean;
  error?: string;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
  testId?: string;
}) {
  const [typed, setTyped] = useState("");
  const id = useId();
  const wanted = accepts.map((a) => a.trim().toLowerCase());
  const matches = wanted.includes(typed.trim().toLowerCase());
  return (
    <div className="confirm confirm-typed" role="group" aria-label={label} data-testid={testId}>
      {children}
      <div className="field">
        <label htmlFor={id}>
          Type <strong className="mono">{accepts[0]}</strong>
          {accepts.length > 1 ? (
            <>
              {" "}
              or <strong className="mono">{accepts[1]}</strong>
            </>
          ) : null}{" "}
          to confirm
        </label>
        <input
          id={id}
          autoComplete="off"
          spellCheck={false}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          autoFocus
          data-testid="confirm-input"
        />
      </div>
      <div className="btn-row">
        <button
          type="button"
          className="btn btn-danger btn-small"
          disabled={!matches || busy}
          onClick={onConfirm}
          data-testid="confirm-delete"
        >
          {busy ? "Deleting…" : action}
        </button>
        <button type="button" className="btn btn-secondary btn-small" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
    </div>
  );
}
