/**
 * Where to go after signing in: the one rule for the server (`POST /signin`) and the UI
 * (`/signin?next=`), so the two cannot drift. Imports nothing: Vite bundles it for the browser.
 *
 * Only a path on the same origin is followed; anything else answers "/". Browsers read a
 * backslash as a slash and drop tabs and newlines from URLs, so `/\evil.example` or
 * `/<tab>/evil` would leave the site; `%5C` and `%2F` are refused too, since a router that
 * decodes the path would turn them back into those. The path is resolved against the public
 * URL and its origin compared, so whatever else a browser's URL parser accepts is judged by
 * the same parser.
 */
export function safeNext(next: unknown, origin: string): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.length > 2048) return "/";
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return "/";
  }
  // eslint-disable-next-line no-control-regex
  const suspicious = /[\\\u0000-\u001f\u007f]/;
  if (suspicious.test(next) || suspicious.test(decoded) || decoded.startsWith("//")) return "/";
  let base: URL;
  let target: URL;
  try {
    base = new URL(origin);
    target = new URL(next, base);
  } catch {
    return "/";
  }
  if (target.origin !== base.origin) return "/";
  return `${target.pathname}${target.search}${target.hash}`;
}
