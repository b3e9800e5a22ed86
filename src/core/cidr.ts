/**
 * IP addresses and CIDR ranges as bigints: parse once, then match with two integer operations. Pure.
 *
 * IPv4 addresses are held in their IPv4-mapped IPv6 form (::ffff:a.b.c.d), so "10.0.0.0/8" also matches a
 * socket peer that a dual-stack listener reports as "::ffff:10.1.2.3" — one address space, no special cases.
 */

export interface Cidr {
  /** The network address (host bits cleared), 128-bit. */
  network: bigint;
  /** Prefix length in the 128-bit space (an IPv4 /8 is a /104 here). */
  bits: number;
}

const MAPPED_V4 = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;

/** Parses an IPv4 or IPv6 address (optionally in [brackets], with a %zone) into 128 bits; undefined if invalid. */
export function parseIp(text: string): bigint | undefined {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) {
    const v4 = parseV4(s);
    return v4 === undefined ? undefined : MAPPED_V4 | v4;
  }
  return parseV6(s);
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    // Leading zeros are refused: some parsers read "010" as octal, and an ambiguous address must not pass a check.
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): bigint[] | undefined => {
    if (part === "") return [];
    const out: bigint[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      // A dotted IPv4 tail (::ffff:1.2.3.4) counts as two groups.
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (v4 === undefined) return undefined;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(BigInt(`0x${item}`));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let n = 0n;
  for (const g of [...head, ...Array<bigint>(missing).fill(0n), ...tail]) n = (n << 16n) | g;
  return n;
}

/** True for an address in the IPv4-mapped range, i.e. an IPv4 address. */
export function isV4(ip: bigint): boolean {
  return ip >> 32n === 0xffffn;
}

/** Parses "10.0.0.0/8", "fd00::/8" or a bare address (a single host); undefined if invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.trim().split("/");
  if (extra !== undefined || !addr) return undefined;
  const ip = parseIp(addr);
  if (ip === undefined) return undefined;
  const max = isV4(ip) && !addr.includes(":") ? 32 : 128;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) return undefined;
  const bits = prefix + (128 - max);
  return { network: ip & mask(bits), bits };
}

function mask(bits: number): bigint {
  return bits === 0 ? 0n : (ALL << BigInt(128 - bits)) & ALL;
}

export function inCidr(ip: bigint, cidr: Cidr): boolean {
  return (ip & mask(cidr.bits)) === cidr.network;
}

/** Compiles a list of CIDR strings (invalid entries are skipped: config validation already refused them). */
export function cidrMatcher(list: readonly string[]): (ip: bigint) => boolean {
  const cidrs = list.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  return (ip) => cidrs.some((c) => inCidr(ip, c));
}

/** The canonical text of an address: dotted quad for IPv4 (also when it came as ::ffff:a.b.c.d), compressed IPv6 otherwise. */
export function formatIp(ip: bigint): string {
  if (isV4(ip)) return [24n, 16n, 8n, 0n].map((s) => String((ip >> s) & 0xffn)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip >> BigInt(112 - 16 * i)) & 0xffffn));
  // Compress the longest run of two or more zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
