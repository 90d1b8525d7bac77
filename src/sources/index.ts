import { cloudApiAdapter } from "./cloud-api.js";
import { evolutionAdapter } from "./evolution.js";
import type { SourceAdapter } from "./types.js";
import { wahaAdapter } from "./waha.js";

export type { GatewayHttp } from "./gateway-http.js";
export type { ConnectionReport, SourceAdapter } from "./types.js";

const ADAPTERS: ReadonlyMap<string, SourceAdapter> = new Map(
  [cloudApiAdapter, wahaAdapter, evolutionAdapter].map((adapter) => [adapter.source, adapter]),
);

/** The sources that have their own inbound route (`/inbound/{source}/…`). */
export const GATEWAY_SOURCES: readonly string[] = [...ADAPTERS.keys()];

/** The adapter of a gateway source, or undefined (e.g. for source "api"). */
export function adapterFor(source: string): SourceAdapter | undefined {
  return ADAPTERS.get(source);
}
