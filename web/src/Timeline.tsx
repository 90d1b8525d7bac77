import { useEffect, useRef, useState } from "react";
import { api, errorMessage } from "./api.js";
import type { Chat, List } from "./types.js";
import { DisconnectedBanners } from "./Disconnected.js";
import {
  Alert,
  Empty,
  Link,
  Loading,
  ZoneNote,
  formatDateTime,
  formatRelative,
  ChatAvatar,
  useDocumentTitle,
  useTimezone,
} from "./ui.js";

const PAGE = 50;

export function chatPath(chatId: string): string {
  return `/chat/${encodeURIComponent(chatId)}/messages/`;
}

export function TimelinePage() {
  useDocumentTitle("Timeline");
  const tz = useTimezone();
  const [query, setQuery] = useState(() => new URLSearchParams(window.location.search).get("q") ?? "");
  const [debounced, setDebounced] = useState(query);
  const [chats, setChats] = useState<Chat[] | undefined>(undefined);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const seq = useRef(0);

  useEffect(() => {
    const t = window.setTimeout(() => setDebounced(query.trim()), 250);
    return () => window.clearTimeout(t);
  }, [query]);

  useEffect(() => {
    const url = new URL(window.location.href);
    if (debounced) url.searchParams.set("q", debounced);
    else url.searchParams.delete("q");
    window.history.replaceState(null, "", url.pathname + url.search);
  }, [debounced]);

  const fetchPage = (q: string, after: string | null) => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (q) params.set("q", q);
    if (after) params.set("cursor", after);
    return api<List<Chat>>("GET", `/api/v1/chats?${params}`);
  };

  useEffect(() => {
    const n = ++seq.current;
    setLoading(true);
    setError(undefined);
    fetchPage(debounced, null)
      .then((r) => {
        if (n !== seq.current) return;
        setChats(r.items ?? []);
        setCursor(r.next_cursor ?? null);
      })
      .catch((e) => n === seq.current && setError(errorMessage(e)))
      .finally(() => n === seq.current && setLoading(false));
  }, [debounced]);

  const more = async () => {
    if (!cursor) return;
    const n = seq.current;
    setLoadingMore(true);
    try {
      const r = await fetchPage(debounced, cursor);
      if (n !== seq.current) return;
      setChats((c) => {
        const seen = new Set((c ?? []).map((x) => x.chat_id));
        return [...(c ?? []), ...(r.items ?? []).filter((x) => !seen.has(x.chat_id))];
      });
      setCursor(r.next_cursor ?? null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Timeline</h1>
          <p className="muted">Every WhatsApp chat of the workspace, the one with the latest message first.</p>
          <ZoneNote tz={tz} />
        </div>
      </div>
      <DisconnectedBanners tz={tz} />
      <div className="card search-card">
        <form role="search" onSubmit={(e) => e.preventDefault()}>
          <label htmlFor="chat-search">Search chats</label>
          <input
            id="chat-search"
            type="search"
            placeholder="Name or phone number"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            autoComplete="off"
          />
        </form>
      </div>
      {error ? <Alert>Could not load the chats: {error}</Alert> : null}
      {loading && !chats ? <Loading label="Loading chats…" /> : null}
      {chats && chats.length === 0 && !loading ? (
        debounced ? (
          <Empty title={`No chat matches “${debounced}”`}>
            Try part of a name, or a phone number with its country code.
          </Empty>
        ) : (
          <Empty title="No conversations yet">
            Chats appear here as soon as the first WhatsApp message of a connected account arrives.
          </Empty>
        )
      ) : null}
      {chats && chats.length > 0 ? (
        <ul className={`chat-list card ${loading ? "is-stale" : ""}`} aria-label="Chats" aria-busy={loading}>
          {chats.map((c) => (
            <li key={c.chat_id}>
              <Link to={chatPath(c.chat_id)} className="chat-row" data-testid="chat-item">
                <ChatAvatar name={c.full_name || c.phone} group={c.is_group} />
                <span className="chat-main">
                  <span className="chat-name">
                    {c.full_name || c.phone || "Unnamed chat"}
                    {c.is_group ? <span className="badge badge-neutral">Group</span> : null}
                  </span>
                  <LastMessage chat={c} />
                  <span className="chat-sub muted">
                    {c.is_group ? "Group chat" : c.phone}&nbsp;· via {c.account_phone}
                    {c.responsible ? `\u00a0· ${c.responsible.full_name}` : ""}
                  </span>
                </span>
                <time
                  className="chat-time muted"
                  dateTime={c.last_message_at ?? c.created_at}
                  title={formatDateTime(c.last_message_at ?? c.created_at, tz)}
                >
                  {formatRelative(c.last_message_at ?? c.created_at, tz)}
                </time>
              </Link>
            </li>
          ))}
        </ul>
      ) : null}
      {cursor ? (
        <div className="center">
          <button type="button" className="btn btn-secondary" onClick={() => void more()} disabled={loadingMore}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </div>
  );
}

/** The chat's newest message in one line: "You: …" for a sent one, the sender's name in a group. */
function LastMessage({ chat }: { chat: Chat }) {
  const m = chat.last_message;
  if (!m) return null;
  const who = m.direction === "sent" ? "You" : chat.is_group ? m.sender_name : "";
  const text = m.type === "text" ? m.preview : `Attachment (${m.type})`;
  return (
    <span className="chat-preview" data-testid="chat-preview">
      {who ? <span className="chat-preview-who">{who}: </span> : null}
      {text}
    </span>
  );
}
