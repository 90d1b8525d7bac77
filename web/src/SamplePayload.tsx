import { useEffect, useState } from "react";
import { api, errorMessage } from "./api.js";
import type { Aggregation } from "./types.js";
import { CopyButton } from "./ui.js";

/**
 * The payload this webhook's endpoint receives, for a made-up message (`GET …/sample`), so a
 * Zapier or CRM user can map its fields before the first real message. Loaded when opened,
 * and again when the aggregation (the format) changes.
 */
export function SamplePayload({
  webhookId,
  aggregation,
  open: openAtFirst = false,
}: {
  webhookId: string;
  aggregation: Aggregation;
  open?: boolean;
}) {
  const [open, setOpen] = useState(openAtFirst);
  const [text, setText] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!open) return;
    let live = true;
    api<{ payload: unknown }>("GET", `/api/v1/webhooks/${webhookId}/sample`)
      .then((r) => live && (setText(JSON.stringify(r.payload, null, 2)), setError(undefined)))
      .catch((e: unknown) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [open, webhookId, aggregation]);
  return (
    <details
      className="sample-payload"
      data-testid="sample-payload"
      open={open}
      onToggle={(e) => setOpen(e.currentTarget.open)}
    >
      <summary>
        Sample payload: what your endpoint receives{" "}
        {aggregation === "none" ? "for each message" : "for each chat's bundle"}
      </summary>
      {error ? <p className="field-error">Could not load the sample: {error}</p> : null}
      {text ? (
        <>
          <p className="hint">Map these fields in your tool now; "Send test event" POSTs exactly this shape, signed.</p>
          <pre className="mono small sample-json" tabIndex={0} aria-label="Sample payload JSON">
            {text}
          </pre>
          <CopyButton value={text} label="Copy sample" />
        </>
      ) : null}
    </details>
  );
}

interface ChatChoice {
  chat_id: string;
  full_name: string;
  phone: string;
}

/**
 * The digest an aggregated webhook would send now for one chat (`GET …/preview`): rendered
 * as a CRM note shows it, in a sandboxed frame (no script, no same-origin access: the HTML
 * carries what contacts wrote, escaped), beside the JSON of the bundle.
 */
export function DigestPreview({ webhookId }: { webhookId: string }) {
  const [open, setOpen] = useState(false);
  const [chats, setChats] = useState<ChatChoice[]>();
  const [chatId, setChatId] = useState("");
  const [shown, setShown] = useState<{ payload: { aggregation: string }; parts: number; more: boolean }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!open || chats) return;
    api<{ items: ChatChoice[] }>("GET", "/api/v1/chats?limit=50")
      .then((r) => (setChats(r.items), setChatId((c) => c || (r.items[0]?.chat_id ?? ""))))
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [open, chats]);
  const load = async () => {
    setError(undefined);
    setShown(undefined);
    try {
      setShown(await api("GET", `/api/v1/webhooks/${webhookId}/preview?chat_id=${encodeURIComponent(chatId)}`));
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <details
      className="sample-payload"
      data-testid="digest-preview"
      open={open}
      onToggle={(e) => setOpen(e.currentTarget.open)}
    >
      <summary>Preview the next digest of a chat</summary>
      {chats && chats.length === 0 ? (
        <p className="hint">No chats yet: the preview shows a chat's digest once its messages wait for this webhook.</p>
      ) : null}
      {chats && chats.length > 0 ? (
        <p>
          <label htmlFor={`preview-chat-${webhookId}`}>Chat </label>
          <select id={`preview-chat-${webhookId}`} value={chatId} onChange={(e) => setChatId(e.target.value)}>
            {chats.map((c) => (
              <option key={c.chat_id} value={c.chat_id}>
                {c.full_name || c.phone}
              </option>
            ))}
          </select>{" "}
          <button type="button" className="btn btn-secondary btn-small" onClick={() => void load()}>
            Preview
          </button>
        </p>
      ) : null}
      {error ? <p className="field-error">{error}</p> : null}
      {shown ? (
        <>
          {shown.parts > 1 ? (
            <p className="hint">
              This window is over the size limit: it goes as {shown.parts} bundles; the first is shown.
            </p>
          ) : null}
          <iframe
            title="The digest as a CRM note shows it"
            sandbox=""
            srcDoc={shown.payload.aggregation}
            className="digest-frame"
            data-testid="digest-frame"
          />
          <pre className="mono small sample-json" tabIndex={0} aria-label="The bundle's JSON">
            {JSON.stringify(shown.payload, null, 2)}
          </pre>
        </>
      ) : null}
    </details>
  );
}
