import { listAll } from "./api.js";
import type { Account } from "./types.js";
import { Alert, formatDateTime, useLoad } from "./ui.js";

/**
 * One banner per WhatsApp account whose gateway session stopped receiving (its `connection`
 * is `disconnected`), saying since when and what the gateway said. Given the accounts when
 * the page has them already; loads them otherwise.
 */
export function DisconnectedBanners({ accounts, tz }: { accounts?: Account[]; tz?: string }) {
  const loaded = useLoad(
    () => (accounts ? Promise.resolve(accounts) : listAll<Account>("/api/v1/accounts")),
    [accounts],
  );
  const down = (accounts ?? loaded.data ?? []).filter((a) => a.connection?.state === "disconnected");
  if (down.length === 0) return null;
  return (
    <>
      {down.map((a) => (
        <Alert key={a.id} kind="warning" testId="disconnected-banner">
          <strong>WhatsApp account {a.phone} stopped receiving</strong> since {formatDateTime(a.connection!.since, tz)}
          {a.connection!.reason
            ? ` (${a.source === "waha" ? "WAHA" : a.source === "evolution" ? "Evolution API" : "the gateway"} says: ${a.connection!.reason})`
            : ""}
          . No messages arrive from it until its session is connected again: check the phone is online and, if the
          session was logged out, scan the QR code again in the gateway.
          {a.connection!.last_message_at ? ` Last message: ${formatDateTime(a.connection!.last_message_at, tz)}.` : ""}
        </Alert>
      ))}
    </>
  );
}
