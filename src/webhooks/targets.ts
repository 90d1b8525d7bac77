import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import type { DeliveryErrorCode } from "./outcome.js";

/**
 * Addresses a webhook must not reach unless THREADLINE_ALLOW_PRIVATE_TARGETS says so, by kind
 * (the kind names the range in the error a person reads). IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`) match the IPv4 rules (BlockList does that); NAT64 is unwrapped below.
 */
const RANGES: [kind: string, family: "ipv4" | "ipv6", net: string, bits: number][] = [
  ["a cloud metadata address", "ipv4", "169.254.169.254", 32],
  ["a cloud metadata address", "ipv4", "100.100.100.200", 32],
  ["a cloud metadata address", "ipv6", "fd00:ec2::254", 128],
  ["a loopback address", "ipv4", "127.0.0.0", 8],
  ["a loopback address", "ipv6", "::1", 128],
  ["a private address", "ipv4", "10.0.0.0", 8],
  ["a private address", "ipv4", "172.16.0.0", 12],
  ["a private address", "ipv4", "192.168.0.0", 16],
  ["a private address", "ipv6", "fc00::", 7],
  ["a link-local address", "ipv4", "169.254.0.0", 16],
  ["a link-local address", "ipv6", "fe80::", 10],
  ["a carrier-grade NAT address", "ipv4", "100.64.0.0", 10],
  ["a multicast address", "ipv4", "224.0.0.0", 4],
  ["a multicast address", "ipv6", "ff00::", 8],
  ["a reserved address", "ipv4", "0.0.0.0", 8],
  ["a reserved address", "ipv4", "192.0.0.0", 24],
  ["a reserved address", "ipv4", "192.0.2.0", 24],
  ["a reserved address", "ipv4", "192.88.99.0", 24],
  ["a reserved address", "ipv4", "198.18.0.0", 15],
  ["a reserved address", "ipv4", "198.51.100.0", 24],
  ["a reserved address", "ipv4", "203.0.113.0", 24],
  ["a reserved address", "ipv4", "240.0.0.0", 4],
  // `::/96` holds the unspecified address and the deprecated IPv4-compatible ones.
  ["a reserved address", "ipv6", "::", 96],
  ["a reserved address", "ipv6", "64:ff9b:1::", 48],
  ["a reserved address", "ipv6", "100::", 64],
  ["a reserved address", "ipv6", "2001::", 23],
  ["a reserved address", "ipv6", "2001:db8::", 32],
  ["a reserved address", "ipv6", "2002::", 16],
  ["a reserved address", "ipv6", "3fff::", 20],
  ["a reserved address", "ipv6", "fec0::", 10],
];
/**
 * IPv4-mapped IPv6 addresses (`::ffff:0:0/96`): refused as a range of their own (a socket to
 * `::ffff:a.b.c.d` reaches IPv4 `a.b.c.d`, so they are no destination of their own). Checked
 * on IPv6 addresses only: BlockList matches IPv4 addresses against mapped rules too.
 */
const MAPPED = new BlockList();
MAPPED.addSubnet("::ffff:0:0", 96, "ipv6");
const BLOCKED = new BlockList();
const KINDS = new Map<string, BlockList>();
for (const [kind, family, net, bits] of RANGES) {
  BLOCKED.addSubnet(net, bits, family);
  if (!KINDS.has(kind)) KINDS.set(kind, new BlockList());
  KINDS.get(kind)!.addSubnet(net, bits, family);
}

export type TargetPolicy = boolean | string[];

/** Why a webhook URL cannot be delivered to, as `POST /api/v1/webhooks/check-target` answers it. */
export interface TargetProblem {
  code: Extract<DeliveryErrorCode, "INVALID_URL" | "BLOCKED_TARGET" | "DNS_FAILURE">;
  message: string;
}

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
    const kind = this.blockedKind(address);
    if (!kind) return undefined;
    const v4 = isIP(address) === 6 ? embeddedV4(address) : undefined;
    const cidr = `${v4 ?? address}/${isIP(v4 ?? address) === 6 ? 128 : 32}`;
    return `${address} is ${kind}, which Threadline may not reach (webhooks, gateways); to allow it, start Threadline with THREADLINE_ALLOW_PRIVATE_TARGETS=${cidr} (this address) or THREADLINE_ALLOW_PRIVATE_TARGETS=1 (every private address).`;
  }

  /** What kind of refused address `address` is, or undefined when it may be reached. */
  private blockedKind(address: string): string | undefined {
    if (this.policy === true) return undefined;
    const v4 = isIP(address) === 6 ? embeddedV4(address) : undefined;
    const addr = v4 ?? address;
    const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
    const mapped = isIP(address) === 6 && MAPPED.check(address, "ipv6");
    if (!mapped && !BLOCKED.check(addr, family)) return undefined;
    if (this.allowed?.check(addr, family)) return undefined;
    if (mapped && !BLOCKED.check(addr, family)) return "an IPv4-mapped IPv6 address (::ffff:0:0/96)";
    for (const [k, list] of KINDS) if (list.check(addr, family)) return k;
    return "a loopback, private, link-local or reserved address";
  }

  /**
   * The first of `addresses` that may not be reached, as the error a person reads. For a
   * host name it never says what the name resolved to, nor which kind of address: the answer
   * would map an internal network for whoever may enter a URL.
   */
  private refused(hostname: string, addresses: readonly { address: string }[]): string | undefined {
    for (const a of addresses) {
      if (hostname === a.address) {
        const reason = this.blockedReason(a.address);
        if (reason) return reason;
      } else if (this.blockedKind(a.address)) {
        return `${hostname} resolves to an address Threadline may not reach (loopback, private, link-local or reserved; which one is not said); to allow it, start Threadline with THREADLINE_ALLOW_PRIVATE_TARGETS set to that address's range, or THREADLINE_ALLOW_PRIVATE_TARGETS=1 (every private address).`;
      }
    }
    return undefined;
  }

  /**
   * What a delivery to `url` would meet before any request is sent, checked now (the UI
   * asks when a URL is entered): a URL that is not deliverable, an address the policy
   * refuses, or a host that does not resolve. The same rule as at connect time (`lookup`).
   */
  async check(url: string): Promise<TargetProblem | undefined> {
    const bad = checkWebhookUrl(url.trim());
    if (bad) return { code: "INVALID_URL", message: `The webhook URL ${bad}` };
    const host = new URL(url.trim()).hostname.replace(/^\[|\]$/g, "");
    if (isIP(host)) {
      const reason = this.refused(host, [{ address: host }]);
      return reason ? { code: "BLOCKED_TARGET", message: reason } : undefined;
    }
    let addresses: dns.LookupAddress[];
    try {
      addresses = await dns.promises.lookup(host, { all: true });
    } catch (e) {
      const code = (e as { code?: string }).code ?? "lookup failed";
      return {
        code: "DNS_FAILURE",
        message: `${host} does not resolve (${code}): deliveries fail until it does. Check the spelling, or save it anyway if its DNS record is on the way.`,
      };
    }
    const reason = this.refused(host, addresses);
    return reason ? { code: "BLOCKED_TARGET", message: reason } : undefined;
  }

  /** A DNS lookup for the HTTP client that refuses blocked addresses at connect time (no DNS rebinding). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return (callback as any)(err);
      const list = addresses as dns.LookupAddress[];
      const reason = this.refused(hostname, list);
      // Refused before any connection is made: nothing reaches the address.
      if (reason) return (callback as any)(Object.assign(new Error(reason), { code: "EBLOCKEDTARGET" }));
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
  if (u.protocol !== "http:" && u.protocol !== "https:")
    return `must start with http:// or https://, got ${u.protocol}//.`;
  if (!u.hostname) return "must name a host.";
  if (u.username || u.password) return "must not carry a user name or password; put secrets in the path or query.";
  return undefined;
}
