import { useSyncExternalStore } from "react";
import { safeNext as safeNextPath } from "../../src/http/safe-next.js";

/** A tiny history-API router: the server answers index.html for every page path. */
const listeners = new Set<() => void>();

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  window.addEventListener("popstate", cb);
  return () => {
    listeners.delete(cb);
    window.removeEventListener("popstate", cb);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const l of listeners) l();
  if (!opts.replace) window.scrollTo(0, 0);
}

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const full = useSyncExternalStore(subscribe, snapshot);
  const q = full.indexOf("?");
  return { path: q < 0 ? full : full.slice(0, q), search: new URLSearchParams(q < 0 ? "" : full.slice(q)) };
}

export type Route =
  | { page: "webhooks"; tab: "outgoing" | "incoming" }
  | { page: "timeline" }
  | { page: "chat"; chatId: string }
  | { page: "permalink"; uuid: string }
  | { page: "accounts" }
  | { page: "teammates" }
  | { page: "apikeys" }
  | { page: "audit" }
  | { page: "workspace" }
  | { page: "signin" }
  | { page: "link"; kind: "invitation" | "reset" | "signin"; token: string }
  | { page: "notfound" };

export function match(path: string): Route {
  const p = path.replace(/\/+$/, "") || "/";
  if (p === "/" || p === "/webhooks" || p === "/webhooks/outgoing") return { page: "webhooks", tab: "outgoing" };
  if (p === "/webhooks/incoming") return { page: "webhooks", tab: "incoming" };
  if (p === "/timeline" || p === "/chats") return { page: "timeline" };
  let m = /^\/chat\/([^/]+)(?:\/messages)?$/.exec(p);
  if (m) return { page: "chat", chatId: decodeURIComponent(m[1]!) };
  m = /^\/permalink\/([^/]+)$/.exec(p);
  if (m) return { page: "permalink", uuid: decodeURIComponent(m[1]!) };
  if (p === "/accounts") return { page: "accounts" };
  if (p === "/teammates") return { page: "teammates" };
  if (p === "/api-keys") return { page: "apikeys" };
  if (p === "/audit") return { page: "audit" };
  if (p === "/workspace") return { page: "workspace" };
  if (p === "/signin" || p === "/login") return { page: "signin" };
  // The links e-mailed to people: the token is the last path segment.
  m = /^\/(invitation|reset-password|sign-in-link)\/([^/]+)$/.exec(p);
  if (m)
    return {
      page: "link",
      kind: m[1] === "invitation" ? "invitation" : m[1] === "reset-password" ? "reset" : "signin",
      token: decodeURIComponent(m[2]!),
    };
  return { page: "notfound" };
}

/** A same-origin path that is safe to return to after signing in. */
export function safeNext(next: string | null): string | null {
  const path = safeNextPath(next, window.location.origin);
  if (path === "/" || /^\/(signin|login)(\/|\?|#|$)/.test(path)) return null;
  return path;
}
