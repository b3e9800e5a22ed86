/**
 * Which IP addresses the platform may call out to (pure). Every address is handled as 16 bytes, IPv4 as its
 * IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one table and one CIDR matcher serve both families and
 * `::ffff:127.0.0.1` can never slip past a rule written for 127.0.0.0/8. Used by outbound-guard.ts.
 */

/** Why an address is not a public one. */
export type AddressKind = "loopback" | "private" | "link-local" | "metadata" | "unspecified" | "multicast" | "broadcast" | "reserved";

export interface Classification {
  kind: AddressKind;
  /** The special range that matched, as CIDR text (for messages): "10.0.0.0/8", "fc00::/7". */
  range: string;
  /** For NAT64 and 6to4 addresses: the IPv4 address they carry (it was classified in their stead). */
  embedded?: string;
}

type Bytes = Uint8Array;

interface Cidr {
  bytes: Bytes;
  /** Prefix length in the 128-bit space (an IPv4 /8 is /104 here). */
  bits: number;
  text: string;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseV4(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map((p) => (p.length > 1 && p.startsWith("0") ? NaN : Number(p)));
  // Leading zeros are refused: "010" is 8 to some parsers and 10 to others.
  return parts.every((n) => n >= 0 && n <= 255) ? parts : null;
}

function parseV6(text: string): Bytes | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (const [i, item] of items.entries()) {
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  // A dotted tail is only valid as the very last part.
  if (halves.length === 2 && halves[0]!.includes(".")) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/**
 * An IPv4 or IPv6 address as 16 bytes (IPv4 mapped), or null when `text` is not an address. Accepts the
 * forms URLs and resolvers produce: brackets ("[::1]") and an IPv6 zone ("fe80::1%eth0") are stripped.
 */
export function parseIp(text: string): Bytes | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0 && s.includes(":")) s = s.slice(0, zone);
  const v4 = parseV4(s);
  if (v4) return new Uint8Array([...V4_MAPPED_PREFIX, ...v4]);
  return s.includes(":") ? parseV6(s) : null;
}

function isMapped(bytes: Bytes): boolean {
  return V4_MAPPED_PREFIX.every((x, i) => bytes[i] === x);
}

/** Canonical text: dotted quad for IPv4 (mapped or not), RFC 5952 compressed form for IPv6. */
export function formatIp(bytes: Bytes): string {
  if (isMapped(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const g = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

/** "10.0.0.0/8", "fd00::/8", or a bare address (one host). Null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const [addr, bitsText, extra] = text.trim().split("/");
  if (extra !== undefined || !addr) return null;
  const bytes = parseIp(addr);
  if (!bytes || addr.includes("%")) return null;
  const v4 = parseV4(addr.replace(/^\[|\]$/g, "")) !== null;
  const max = v4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (bits > max) return null;
  return { bytes, bits: v4 ? bits + 96 : bits, text: text.trim() };
}

function contains(cidr: Cidr, data: Bytes): boolean {
  let left = cidr.bits;
  for (let i = 0; i < 16 && left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (data[i]! & mask)) return false;
  }
  return true;
}

/** Whether `address` lies in `cidr` (both as text; an IPv4 CIDR also matches the IPv4-mapped form). */
export function cidrContains(cidr: string, address: string): boolean {
  const c = parseCidr(cidr);
  const b = parseIp(address);
  if (!c) throw new TypeError(`not a CIDR: ${JSON.stringify(cidr)}`);
  return b !== null && contains(c, b);
}

const table = (rows: Array<[string, AddressKind]>) =>
  rows.map(([text, kind]) => {
    const c = parseCidr(text);
    if (!c) throw new Error(`bad built-in range ${text}`);
    return { cidr: c, kind };
  });

/**
 * Cloud instance-metadata endpoints: AWS/GCP/Azure/OpenStack (169.254.169.254), AWS ECS task credentials
 * (169.254.170.2), Alibaba (100.100.100.200), Azure WireServer (168.63.129.16), AWS IMDS over IPv6. They hand
 * out credentials, so they are refused even when a wider allowlist entry covers them (see isAllowed).
 */
const METADATA = table([
  ["169.254.169.254/32", "metadata"],
  ["169.254.170.2/32", "metadata"],
  ["100.100.100.200/32", "metadata"],
  ["168.63.129.16/32", "metadata"],
  ["fd00:ec2::254/128", "metadata"],
]);

/** IPv4 special-purpose ranges (IANA registry), first match wins. */
const V4 = table([
  ["0.0.0.0/32", "unspecified"],
  ["0.0.0.0/8", "reserved"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "private"], // carrier-grade NAT (shared address space)
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "reserved"],
  ["192.88.99.0/24", "reserved"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "reserved"],
  ["203.0.113.0/24", "reserved"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
]);

/** IPv6 special-purpose ranges, first match wins; anything outside 2000::/3 is reserved too. */
const V6 = table([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["64:ff9b:1::/48", "private"], // local-use NAT64 (inside ::/8, so before it)
  ["::/8", "reserved"], // IPv4-compatible (deprecated), IPv4-translated and the rest of the low block
  ["100::/64", "reserved"], // discard-only
  ["2001:db8::/32", "reserved"], // documentation
  ["2001::/23", "reserved"], // Teredo, benchmarking, ORCHID and other protocol assignments
  ["3fff::/20", "reserved"], // documentation
  ["fc00::/7", "private"], // unique local
  ["fe80::/10", "link-local"],
  ["fec0::/10", "private"], // site-local (deprecated)
  ["ff00::/8", "multicast"],
]);

const NAT64 = parseCidr("64:ff9b::/96")!;
const SIX_TO_FOUR = parseCidr("2002::/16")!;
const GLOBAL_UNICAST = parseCidr("2000::/3")!;

function classifyBytes(bytes: Bytes): Classification | null {
  for (const r of METADATA) if (contains(r.cidr, bytes)) return { kind: r.kind, range: r.cidr.text };
  if (isMapped(bytes)) {
    for (const r of V4) if (contains(r.cidr, bytes)) return { kind: r.kind, range: r.cidr.text };
    return null;
  }
  // Translation prefixes carry an IPv4 address that is what the packets finally reach: judge that one.
  const embeddedAt = contains(NAT64, bytes) ? 12 : contains(SIX_TO_FOUR, bytes) ? 2 : -1;
  if (embeddedAt >= 0) {
    const v4 = new Uint8Array([...V4_MAPPED_PREFIX, ...bytes.slice(embeddedAt, embeddedAt + 4)]);
    const inner = classifyBytes(v4);
    return inner ? { ...inner, range: `${embeddedAt === 12 ? NAT64.text : SIX_TO_FOUR.text} carrying ${inner.range}`, embedded: formatIp(v4) } : null;
  }
  for (const r of V6) if (contains(r.cidr, bytes)) return { kind: r.kind, range: r.cidr.text };
  if (!contains(GLOBAL_UNICAST, bytes)) return { kind: "reserved", range: "outside 2000::/3" };
  return null;
}

/**
 * What kind of non-public address `address` is, or null for a public one. Throws a TypeError when `address`
 * is not an IP address at all (host names must be resolved first).
 */
export function classifyAddress(address: string): Classification | null {
  const b = parseIp(address);
  if (!b) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  return classifyBytes(b);
}

/**
 * Whether the platform may connect to `address`: public addresses always; others when an allowlist CIDR
 * covers them (or the IPv4 address a NAT64/6to4 address carries). A metadata endpoint needs an entry naming
 * exactly that host (169.254.169.254/32): allowing 169.254.0.0/16 for a device must not hand out cloud
 * credentials by accident. Invalid CIDRs in `allowCidrs` are ignored (config validation reports them).
 */
export function isAllowed(address: string, allowCidrs: readonly string[]): { allowed: boolean; class: Classification | null } {
  const b = parseIp(address);
  if (!b) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  const cls = classifyBytes(b);
  if (!cls) return { allowed: true, class: null };
  const targets = [b, ...(cls.embedded ? [parseIp(cls.embedded)!] : [])];
  const allowed = allowCidrs.some((text) => {
    const c = parseCidr(text);
    if (!c) return false;
    if (cls.kind === "metadata" && c.bits !== 128) return false;
    return targets.some((t) => contains(c, t));
  });
  return { allowed, class: cls };
}
