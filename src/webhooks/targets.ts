import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

/** Addresses a webhook must not reach unless THREADLINE_ALLOW_PRIVATE_TARGETS says so. */
const BLOCKED = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15],
  ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) BLOCKED.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128], ["::1", 128], ["100::", 64], ["2001:db8::", 32], ["2001::", 32], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
] as const) BLOCKED.addSubnet(net, bits, "ipv6");

export type TargetPolicy = boolean | string[];

/** IPv4 embedded in an IPv6 address (mapped `::ffff:a.b.c.d` or NAT64 `64:ff9b::/96`), if any. */
function embeddedV4(addr: string): string | undefined {
  const m = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (m) return m[1];
  const h = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(addr);
  if (h) {
    const hi = parseInt(h[1]!, 16);
    const lo = parseInt(h[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

export class TargetGuard {
  private allowed: BlockList | undefined;

  constructor(private policy: TargetPolicy) {
    if (Array.isArray(policy)) {
      this.allowed = new BlockList();
      for (const cidr of policy) {
        const [addr, bits] = cidr.split("/") as [string, string | undefined];
        const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
        this.allowed.addSubnet(addr, bits === undefined ? (family === "ipv6" ? 128 : 32) : Number(bits), family);
      }
    }
  }

  /** Why `address` may not be reached, or undefined when it may. */
  blockedReason(address: string): string | undefined {
    if (this.policy === true) return undefined;
    const v4 = isIP(address) === 6 ? embeddedV4(address) : undefined;
    const addr = v4 ?? address;
    const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
    if (!BLOCKED.check(addr, family)) return undefined;
    if (this.allowed?.check(addr, family)) return undefined;
    return `${address} is a loopback, private, link-local or reserved address; set THREADLINE_ALLOW_PRIVATE_TARGETS to allow it.`;
  }

  /** A DNS lookup for the HTTP client that refuses blocked addresses at connect time (no DNS rebinding). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return (callback as any)(err);
      const list = addresses as dns.LookupAddress[];
      for (const a of list) {
        const reason = this.blockedReason(a.address);
        if (reason) {
          const e = Object.assign(new Error(`${hostname} resolves to ${reason}`), { code: "EBLOCKEDTARGET" });
          return (callback as any)(e);
        }
      }
      if ((options as dns.LookupOptions).all) (callback as any)(null, list);
      else (callback as any)(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** Checks a webhook URL can ever be delivered: http(s) and parsable. */
export function checkWebhookUrl(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `"${raw}" is not a URL; use a full address such as https://hooks.example.com/threadline.`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `must start with http:// or https://, got ${u.protocol}//.`;
  if (!u.hostname) return "must name a host.";
  if (u.username || u.password) return "must not carry a user name or password; put secrets in the path or query.";
  return undefined;
}
