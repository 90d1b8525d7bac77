import {
  Fragment,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
} from "react";
import { api, ApiError, errorMessage, fieldOf, listAll } from "./api.js";
import { chatPath } from "./Timeline.js";
import { SendStatusBadge, sendingPath } from "./Sending.js";
import type { Account, Chat, List, Message, Source, Teammate } from "./types.js";
import {
  Alert,
  Empty,
  FieldError,
  Link,
  Loading,
  MeContext,
  ZoneNote,
  formatDateTime,
  formatDay,
  formatTime,
  ChatAvatar,
  useDocumentTitle,
  useInterval,
  useLoad,
  useTimezone,
} from "./ui.js";

const PAGE = 200;
const POLL_MS = 5000;

/** Every message of a chat (following `next_cursor`), merged by id and put in time order. */
async function fetchMessages(chatId: string, maxPages: number, until?: (all: Message[]) => boolean) {
  const all: Message[] = [];
  let cursor: string | null | undefined = undefined;
  let pages = 0;
  do {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) params.set("cursor", cursor);
    const page: List<Message> = await api("GET", `/api/v1/chats/${encodeURIComponent(chatId)}/messages?${params}`);
    all.push(...(page.items ?? []));
    cursor = page.next_cursor;
    pages++;
    if (until?.(all)) break;
  } while (cursor && pages < maxPages);
  return { messages: all, more: Boolean(cursor) };
}

function order(list: Message[]): Message[] {
  const seen = new Map<string, { m: Message; i: number }>();
  list.forEach((m, i) => seen.set(m.message_id, { m, i: seen.get(m.message_id)?.i ?? i }));
  return [...seen.values()]
    .sort((a, b) => {
      const d = new Date(a.m.timestamp).getTime() - new Date(b.m.timestamp).getTime();
      return d !== 0 && !Number.isNaN(d) ? d : a.i - b.i;
    })
    .map((x) => x.m);
}

function localPath(url: string): string {
  try {
    const u = new URL(url, window.location.origin);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

export function PermalinkPage({ uuid }: { uuid: string }) {
  useDocumentTitle("Message");
  const { data, error } = useLoad(
    () => api<{ chat_id: string; message_id: string }>("GET", `/api/v1/permalinks/${encodeURIComponent(uuid)}`),
    [uuid],
  );
  if (error) {
    return (
      <div className="page">
        <h1>Message not found</h1>
        <Alert>{error.includes("not") ? error : `This link could not be opened: ${error}`}</Alert>
        <p>
          The message may belong to another workspace. <Link to="/timeline">Open the Timeline</Link>.
        </p>
      </div>
    );
  }
  if (!data) return <Loading label="Opening the message…" />;
  return <ConversationPage chatId={data.chat_id} highlightId={data.message_id} />;
}

export function ConversationPage({ chatId, highlightId }: { chatId: string; highlightId?: string }) {
  const tz = useTimezone();
  const chat = useLoad(() => api<Chat>("GET", `/api/v1/chats/${encodeURIComponent(chatId)}`), [chatId]);
  const teammates = useLoad(() => listAll<Teammate>("/api/v1/teammates"), []);
  const accounts = useLoad(() => listAll<Account>("/api/v1/accounts").catch(() => [] as Account[]), []);
  const [messages, setMessages] = useState<Message[]>();
  const [more, setMore] = useState(false);
  const [msgError, setMsgError] = useState<string>();
  const [loadingMore, setLoadingMore] = useState(false);
  const listRef = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const didInitialScroll = useRef(false);
  const pagesLoaded = useRef(5);

  useDocumentTitle(chat.data?.full_name || "Conversation");

  const load = useCallback(
    async (quiet: boolean) => {
      try {
        // Looking for a permalink's message: keep paging until it is loaded.
        const seeking = Boolean(highlightId) && !didInitialScroll.current;
        const r = await fetchMessages(chatId, seeking ? 25 : pagesLoaded.current, (all) =>
          seeking ? all.some((m) => m.message_id === highlightId) : false,
        );
        setMessages((prev) => (quiet && prev ? order([...prev, ...r.messages]) : order(r.messages)));
        setMore(r.more);
        setMsgError(undefined);
      } catch (e) {
        if (!quiet) setMsgError(errorMessage(e));
      }
    },
    [chatId, highlightId],
  );

  useEffect(() => {
    setMessages(undefined);
    didInitialScroll.current = false;
    void load(false);
  }, [load]);

  useInterval(() => {
    if (messages) void load(true);
  }, POLL_MS);

  // First render of the messages: the highlighted one in view, else the newest.
  useLayoutEffect(() => {
    const box = listRef.current;
    if (!messages || !box) return;
    if (!didInitialScroll.current) {
      didInitialScroll.current = true;
      const target = highlightId
        ? box.querySelector<HTMLElement>(`[data-message-id="${CSS.escape(highlightId)}"]`)
        : null;
      if (target) {
        target.scrollIntoView({ block: "center" });
        target.focus({ preventScroll: true });
        stickToBottom.current = false;
      } else box.scrollTop = box.scrollHeight;
      return;
    }
    if (stickToBottom.current) box.scrollTop = box.scrollHeight;
  }, [messages, highlightId]);

  const onScroll = () => {
    const box = listRef.current;
    if (box) stickToBottom.current = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  };

  const loadMore = async () => {
    setLoadingMore(true);
    pagesLoaded.current += 5;
    await load(true);
    setLoadingMore(false);
  };

  if (chat.error) {
    const notFound = chat.error && /not found|404/i.test(chat.error);
    return (
      <div className="page">
        <h1>{notFound ? "Chat not found" : "Could not open the chat"}</h1>
        <Alert>{chat.error}</Alert>
        <p>
          <Link to="/timeline">Back to the Timeline</Link>
        </p>
      </div>
    );
  }

  const c = chat.data;
  const account = c ? accounts.data?.find((a) => a.phone === c.account_phone) : undefined;
  const highlightMissing = highlightId && messages && !messages.some((m) => m.message_id === highlightId);

  return (
    <div className="page conversation-page">
      <div className="conv-head card">
        <Link to="/timeline" className="back-link">
          <span aria-hidden="true">←</span> Timeline
        </Link>
        {c ? (
          <div className="conv-title">
            <ChatAvatar name={c.full_name || c.phone} group={c.is_group} large />
            <div>
              <h1 data-testid="chat-title">{c.full_name || c.phone || "Unnamed chat"}</h1>
              <p className="muted small">
                {c.is_group ? "Group chat" : c.phone}&nbsp;· via {c.account_phone}
                {account ? ` (${account.full_name})` : ""}&nbsp;·{" "}
                <span data-testid="chat-started">started {formatDateTime(c.first_message_at ?? c.created_at, tz)}</span>
              </p>
              <ZoneNote tz={tz} />
            </div>
          </div>
        ) : (
          <Loading label="Loading chat…" />
        )}
        {c ? <Responsible chat={c} teammates={teammates.data} onChange={(next) => chat.setData(next)} /> : null}
      </div>
      {highlightId && messages ? (
        <p className="permalink-note" role="status">
          {highlightMissing
            ? "The linked message is not in this conversation any more."
            : "Showing the linked message, highlighted."}{" "}
          <Link to={chatPath(chatId)}>Open the whole conversation</Link>
        </p>
      ) : null}

      <section className="card conv-card" aria-label="Messages">
        <div className="messages" ref={listRef} onScroll={onScroll} data-testid="messages">
          {msgError ? <Alert>Could not load the messages: {msgError}</Alert> : null}
          {!messages && !msgError ? <Loading label="Loading messages…" /> : null}
          {messages && messages.length === 0 ? <Empty title="No messages in this chat yet" /> : null}
          {messages && messages.length > 0 ? (
            <MessageList messages={messages} highlightId={highlightId} tz={tz} source={account?.source} />
          ) : null}
          {more ? (
            <div className="center">
              <button
                type="button"
                className="btn btn-secondary btn-small"
                onClick={() => void loadMore()}
                disabled={loadingMore}
              >
                {loadingMore ? "Loading…" : "Load more messages"}
              </button>
            </div>
          ) : null}
        </div>
        {c ? (
          <Composer
            chat={c}
            ownerName={account?.full_name}
            source={account?.source}
            onSent={(m) => {
              stickToBottom.current = true;
              setMessages((prev) => order([...(prev ?? []), m]));
            }}
          />
        ) : null}
      </section>
    </div>
  );
}

function MessageList({
  messages,
  highlightId,
  tz,
  source,
}: {
  messages: Message[];
  highlightId?: string;
  tz?: string;
  source: Source | undefined;
}) {
  let lastDay = "";
  return (
    <ol className="message-list" aria-label="Conversation">
      {messages.map((m) => {
        const day = formatDay(m.timestamp, tz);
        const sep = day !== lastDay;
        lastDay = day;
        const highlighted = m.message_id === highlightId;
        const skipped = m.status === "skipped";
        return (
          <Fragment key={m.message_id}>
            {sep ? (
              <li className="day-sep" aria-hidden="true">
                <span>{day}</span>
              </li>
            ) : null}
            <li className={`msg-row ${m.direction === "sent" ? "msg-sent" : "msg-received"}`}>
              <article
                className={`bubble ${m.direction === "sent" ? "sent" : "received"}${highlighted ? " highlighted" : ""}${skipped ? " skipped" : ""}`}
                data-message-id={m.message_id}
                data-direction={m.direction}
                data-highlighted={highlighted ? "true" : undefined}
                tabIndex={highlighted ? -1 : undefined}
                aria-label={`${m.direction === "sent" ? "Sent" : "Received"} message from ${m.sender?.full_name || "unknown"} at ${formatDateTime(m.timestamp, tz)}`}
              >
                <p className="bubble-sender">{m.sender?.full_name || m.sender?.phone || "Unknown"}</p>
                {skipped ? (
                  <p className="bubble-attachment">
                    <svg viewBox="0 0 20 20" width="14" height="14" aria-hidden="true">
                      <path
                        d="M13.5 6.5 8 12a1.8 1.8 0 0 0 2.5 2.5l6-6a3.5 3.5 0 0 0-5-5l-6 6a5.2 5.2 0 0 0 7.4 7.4L17 13"
                        fill="none"
                        stroke="currentColor"
                        strokeWidth="1.6"
                        strokeLinecap="round"
                      />
                    </svg>
                    Attachment (not forwarded)
                    {m.type && m.type !== "text" ? <span className="muted"> · {m.type}</span> : null}
                  </p>
                ) : (
                  <p className="bubble-text">{m.text}</p>
                )}
                <p className="bubble-meta">
                  {m.permalink ? (
                    <Link to={localPath(m.permalink)} className="bubble-time">
                      <time dateTime={m.timestamp} title={`${formatDateTime(m.timestamp, tz)} — link to this message`}>
                        {formatTime(m.timestamp, tz)}
                      </time>
                    </Link>
                  ) : (
                    <time dateTime={m.timestamp} className="bubble-time" title={formatDateTime(m.timestamp, tz)}>
                      {formatTime(m.timestamp, tz)}
                    </time>
                  )}
                  <SendStatusBadge message={m} source={source} />
                </p>
                {m.send_status === "failed" && m.send_error ? (
                  <p className="bubble-error small" data-testid="send-error">
                    Not sent: {m.send_error}
                  </p>
                ) : null}
              </article>
            </li>
          </Fragment>
        );
      })}
    </ol>
  );
}

function Responsible({
  chat,
  teammates,
  onChange,
}: {
  chat: Chat;
  teammates: Teammate[] | undefined;
  onChange: (c: Chat) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const value = chat.responsible?.email ?? "";
  const known = teammates ?? [];
  const options =
    value && !known.some((t) => t.email === value)
      ? [...known, { id: "current", full_name: chat.responsible!.full_name, email: value }]
      : known;

  const change = async (email: string) => {
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      const updated = await api<Chat>("PATCH", `/api/v1/chats/${encodeURIComponent(chat.chat_id)}`, {
        responsible_email: email || null,
      });
      const t = known.find((x) => x.email === email);
      onChange(
        updated && updated.chat_id
          ? updated
          : { ...chat, responsible: email && t ? { full_name: t.full_name, email } : null },
      );
      setSaved(true);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="field responsible">
      <label htmlFor="responsible">Responsible</label>
      <select
        id="responsible"
        value={value}
        disabled={busy || !teammates}
        onChange={(e) => void change(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "responsible-error" : undefined}
      >
        <option value="">Nobody</option>
        {options.map((t) => (
          <option key={t.email} value={t.email}>
            {t.full_name} ({t.email})
          </option>
        ))}
      </select>
      <FieldError id="responsible-error" message={error} />
      {saved ? (
        <p className="saved" role="status">
          Saved.
        </p>
      ) : null}
    </div>
  );
}

function Composer({
  chat,
  ownerName,
  source,
  onSent,
}: {
  chat: Chat;
  ownerName?: string;
  source: Source | undefined;
  onSent: (m: Message) => void;
}) {
  const [text, setText] = useState("");
  // The signed-in person sends (the server takes the sender from the session).
  const me = useContext(MeContext);
  const [errors, setErrors] = useState<{ text?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    if (busy) return;
    if (!text.trim()) {
      setErrors({ text: "Write a message first." });
      ref.current?.focus();
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const body = { text };
      const m = await api<Message>("POST", `/api/v1/chats/${encodeURIComponent(chat.chat_id)}/messages`, body);
      setText("");
      if (m && m.message_id) onSent(m);
      ref.current?.focus();
    } catch (err) {
      const f = fieldOf(err, ["text"]);
      const msg = errorMessage(err);
      if (f === "text") setErrors({ text: msg });
      else setErrors({ form: err instanceof ApiError && err.status === 0 ? msg : `The message was not sent: ${msg}` });
    } finally {
      setBusy(false);
    }
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <form className="composer" onSubmit={send} noValidate aria-label="Send a message" data-testid="composer">
      <div className="composer-top">
        <span className="muted small" data-testid="send-as">
          Sending as <strong>{me?.full_name ?? ownerName ?? "you"}</strong>
        </span>
      </div>
      <div className="composer-row">
        <label htmlFor="composer-text" className="sr-only">
          Message
        </label>
        <textarea
          id="composer-text"
          ref={ref}
          rows={2}
          placeholder={`Message ${chat.full_name || chat.phone}…`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
          aria-invalid={errors.text ? true : undefined}
          aria-describedby={`composer-hint${errors.text ? " composer-text-error" : ""}`}
        />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Sending…" : "Send"}
        </button>
      </div>
      <p className="hint" id="composer-hint">
        Enter sends, Shift+Enter adds a line. {sendingPath(source)}
      </p>
      <FieldError id="composer-text-error" message={errors.text} />
      {errors.form ? <Alert>{errors.form}</Alert> : null}
    </form>
  );
}
