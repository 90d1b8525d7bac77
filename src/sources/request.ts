/** An inbound request as the adapters check it: headers, signatures and tokens compared in constant time, the 405 answer. */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { InboundOutcome, InboundRequest } from "./types.js";

/** Constant-time string equality (both sides are hashed first, so lengths do not leak). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}

export function hmacHex(algorithm: "sha256" | "sha512", key: string, data: Buffer): string {
  return createHmac(algorithm, key).update(data).digest("hex");
}

/** A request header by case-insensitive name (first value when repeated). */
export function header(req: InboundRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export const METHOD_NOT_ALLOWED: InboundOutcome = {
  kind: "reply",
  status: 405,
  contentType: "text/plain; charset=utf-8",
  body: "This inbound URL accepts POST only.",
};
