// What a page of several webhooks, and an aggregated one, says at a glance (issue #14, items
// 5 and 8): the endpoints and their status first; when the next bundle goes out.
import type { Webhook } from "./types.js";
import { formatDateTime, formatRelative } from "./ui.js";
import { statusOf } from "./webhookStatus.js";

/** With two or more webhooks the page starts with this: each endpoint, its status, a link to its card. */
export function EndpointList({ webhooks }: { webhooks: Webhook[] }) {
  if (webhooks.length < 2) return null;
  return (
    <nav className="card endpoint-list" aria-label="Endpoints" data-testid="endpoint-list">
      <h2 className="section-title">{webhooks.length} endpoints</h2>
      <ul>
        {webhooks.map((w) => {
          const status = statusOf(w);
          return (
            <li key={w.id} data-testid="endpoint" data-webhook-id={w.id}>
              <a href={`#wh-${w.id}-title`} className="endpoint-url mono" title={w.url}>
                {w.url}
              </a>
              <span className={`badge badge-${status.tone}`}>{status.label}</span>
              <span className="muted small endpoint-detail">{status.detail}</span>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

/** An aggregated webhook's next bundle time (with its zone) and how many chats have messages waiting. */
export function NextBundle({ webhook: w, tz }: { webhook: Webhook; tz?: string }) {
  if (w.aggregation === "none") return null;
  const open = w.open_chats ?? 0;
  const chats = `${open} open chat${open === 1 ? "" : "s"}`;
  if (!w.enabled) {
    return (
      <p className="next-bundle muted small" data-testid="next-bundle">
        No bundles while disabled · {chats}
      </p>
    );
  }
  return (
    <p className="next-bundle small" data-testid="next-bundle">
      {w.next_bundle_at && Date.parse(w.next_bundle_at) <= Date.now() ? (
        <>Bundles due at {formatDateTime(w.next_bundle_at, tz)} are going out</>
      ) : w.next_bundle_at ? (
        <>
          Next bundle{" "}
          <time dateTime={w.next_bundle_at} title={formatDateTime(w.next_bundle_at, tz)}>
            {formatRelative(w.next_bundle_at, tz)}
          </time>
          , at {formatDateTime(w.next_bundle_at, tz)}
        </>
      ) : (
        "Next bundle: being scheduled"
      )}{" "}
      · {chats}
    </p>
  );
}
