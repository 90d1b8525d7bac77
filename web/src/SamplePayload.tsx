import { useEffect, useState } from "react";
import { api, errorMessage } from "./api.js";
import type { Aggregation } from "./types.js";
import { CopyButton } from "./ui.js";

/**
 * The payload this webhook's endpoint receives, for a made-up message (`GET …/sample`), so a
 * Zapier or CRM user can map its fields before the first real message. Loaded when opened,
 * and again when the aggregation (the format) changes.
 */
export function SamplePayload({ webhookId, aggregation, open: openAtFirst = false }: { webhookId: string; aggregation: Aggregation; open?: boolean }) {
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
    <details className="sample-payload" data-testid="sample-payload" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Sample payload: what your endpoint receives {aggregation === "none" ? "for each message" : "for each chat's bundle"}</summary>
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
