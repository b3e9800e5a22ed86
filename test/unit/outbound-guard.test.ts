/**
 * The outbound-request policy: the address classifier over every special range (with the addresses at
 * each edge), CIDR allowlists, schemes, DNS answers (every address must pass), and guardedFetch against a
 * real HTTP server on loopback that redirects.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  type AddressKind,
  checkOutboundUrl,
  cidrContains,
  classifyAddress,
  formatIp,
  guardedFetch,
  guardedFetchDetailed,
  isAllowed,
  OutboundRefused,
  OutboundTimeout,
  parseCidr,
  parseIp,
  probeInputOptions,
  redactUrl,
  resolveSourceUrl,
} from "../../src/core/outbound-guard.ts";
import { AppError } from "../../src/core/errors.ts";

/** [address, expected kind or null for public]: the first and last address of each range and its neighbours. */
const TABLE: Array<[string, AddressKind | null]> = [
  // IPv4
  ["0.0.0.0", "unspecified"],
  ["0.0.0.1", "reserved"],
  ["0.255.255.255", "reserved"],
  ["1.0.0.0", null],
  ["9.255.255.255", null],
  ["10.0.0.0", "private"],
  ["10.0.0.5", "private"],
  ["10.255.255.255", "private"],
  ["11.0.0.0", null],
  ["100.63.255.255", null],
  ["100.64.0.0", "private"],
  ["100.127.255.255", "private"],
  ["100.128.0.0", null],
  ["100.100.100.200", "metadata"],
  ["126.255.255.255", null],
  ["127.0.0.0", "loopback"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.255", "loopback"],
  ["128.0.0.0", null],
  ["169.253.255.255", null],
  ["169.254.0.0", "link-local"],
  ["169.254.169.254", "metadata"],
  ["169.254.170.2", "metadata"],
  ["169.254.169.253", "link-local"],
  ["169.254.255.255", "link-local"],
  ["169.255.0.0", null],
  ["168.63.129.16", "metadata"],
  ["172.15.255.255", null],
  ["172.16.0.0", "private"],
  ["172.31.255.255", "private"],
  ["172.32.0.0", null],
  ["192.0.0.0", "reserved"],
  ["192.0.0.255", "reserved"],
  ["192.0.1.0", null],
  ["192.0.2.1", "reserved"],
  ["192.88.99.1", "reserved"],
  ["192.167.255.255", null],
  ["192.168.0.0", "private"],
  ["192.168.255.255", "private"],
  ["192.169.0.0", null],
  ["198.17.255.255", null],
  ["198.18.0.0", "reserved"],
  ["198.19.255.255", "reserved"],
  ["198.20.0.0", null],
  ["198.51.100.7", "reserved"],
  ["203.0.113.9", "reserved"],
  ["223.255.255.255", null],
  ["224.0.0.0", "multicast"],
  ["239.255.255.255", "multicast"],
  ["240.0.0.0", "reserved"],
  ["255.255.255.254", "reserved"],
  ["255.255.255.255", "broadcast"],
  ["8.8.8.8", null],
  ["93.184.216.34", null],
  // IPv6
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["::2", "reserved"],
  ["::127.0.0.1", "reserved"], // IPv4-compatible (deprecated): never routed
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["0:0:0:0:0:ffff:10.1.2.3", "private"],
  ["::ffff:169.254.169.254", "metadata"],
  ["::ffff:8.8.8.8", null],
  ["64:ff9b::127.0.0.1", "loopback"], // NAT64 carrying loopback
  ["64:ff9b::a00:1", "private"],
  ["64:ff9b::a9fe:a9fe", "metadata"],
  ["64:ff9b::808:808", null], // NAT64 of a public address is public
  ["64:ff9b:1::1", "private"],
  ["63:ffff::1", "reserved"],
  ["100::1", "reserved"],
  ["2001::1", "reserved"], // Teredo
  ["2001:db8::1", "reserved"],
  ["2002:7f00:1::1", "loopback"], // 6to4 carrying 127.0.0.1
  ["2002:c0a8:101::1", "private"],
  ["2002:808:808::1", null],
  ["2606:4700::1111", null],
  ["2a00:1450:4001:800::200e", null],
  ["3fff::1", "reserved"],
  ["fbff:ffff::1", "reserved"],
  ["fc00::", "private"],
  ["fd12:3456::1", "private"],
  ["fd00:ec2::254", "metadata"],
  ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
  ["fe00::1", "reserved"],
  ["fe80::", "link-local"],
  ["fe80::1%eth0", "link-local"],
  ["febf:ffff::1", "link-local"],
  ["fec0::1", "private"],
  ["ff02::1", "multicast"],
  ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"],
  ["[::1]", "loopback"],
];

describe("classifyAddress", () => {
  test.each(TABLE)("%s → %s", (address, kind) => {
    expect(classifyAddress(address)?.kind ?? null).toBe(kind);
  });

  test("names the range that matched, and the IPv4 address a translation carries", () => {
    expect(classifyAddress("10.0.0.5")).toEqual({ kind: "private", range: "10.0.0.0/8" });
    expect(classifyAddress("64:ff9b::a00:1")).toEqual({ kind: "private", range: "64:ff9b::/96 carrying 10.0.0.0/8", embedded: "10.0.0.1" });
  });

  test("refuses to classify what is not an address", () => {
    for (const bad of ["localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "010.0.0.1", "1:2:3:4:5:6:7:8:9", "1::2::3", "::g", "", "1.2.3.4::", "12345::"]) {
      expect(() => classifyAddress(bad)).toThrow(TypeError);
    }
  });
});

describe("parsing and formatting", () => {
  test("IPv4 is held in its mapped form; IPv6 is printed compressed", () => {
    expect(formatIp(parseIp("::ffff:7f00:1")!)).toBe("127.0.0.1");
    expect(formatIp(parseIp("127.0.0.1")!)).toBe("127.0.0.1");
    expect(formatIp(parseIp("0:0:0:0:0:0:0:1")!)).toBe("::1");
    expect(formatIp(parseIp("2001:db8:0:0:1:0:0:1")!)).toBe("2001:db8::1:0:0:1");
    expect(formatIp(parseIp("fe80::1%eth0")!)).toBe("fe80::1");
    expect(formatIp(parseIp("::")!)).toBe("::");
  });

  test("CIDRs", () => {
    expect(parseCidr("10.0.0.0/8")?.bits).toBe(104);
    expect(parseCidr("fd00::/8")?.bits).toBe(8);
    expect(parseCidr("192.168.1.7")?.bits).toBe(128);
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/8/1", "host/8", "10.0.0.0/x", "/8"]) expect(parseCidr(bad)).toBeNull();
    expect(cidrContains("10.0.0.0/8", "10.255.255.255")).toBe(true);
    expect(cidrContains("10.0.0.0/8", "11.0.0.0")).toBe(false);
    expect(cidrContains("172.16.0.0/12", "172.31.0.1")).toBe(true);
    expect(cidrContains("172.16.0.0/12", "172.32.0.1")).toBe(false);
    expect(cidrContains("127.0.0.0/8", "::ffff:127.0.0.1")).toBe(true);
    expect(cidrContains("fd00::/8", "fd12::1")).toBe(true);
    expect(cidrContains("fd00::/8", "fc00::1")).toBe(false);
    expect(cidrContains("0.0.0.0/0", "8.8.8.8")).toBe(true);
    expect(cidrContains("192.168.1.7", "192.168.1.7")).toBe(true);
    expect(cidrContains("192.168.1.7", "192.168.1.8")).toBe(false);
    expect(() => cidrContains("nope", "1.1.1.1")).toThrow(TypeError);
  });
});

describe("isAllowed (OUTBOUND_ALLOW_CIDRS)", () => {
  test("public addresses need no entry; others need one that covers them", () => {
    expect(isAllowed("8.8.8.8", []).allowed).toBe(true);
    expect(isAllowed("10.0.0.5", []).allowed).toBe(false);
    expect(isAllowed("10.0.0.5", ["10.0.0.0/8"]).allowed).toBe(true);
    expect(isAllowed("10.0.0.5", ["10.0.1.0/24"]).allowed).toBe(false);
    expect(isAllowed("127.0.0.1", ["127.0.0.1/32"]).allowed).toBe(true);
    expect(isAllowed("127.0.0.2", ["127.0.0.1/32"]).allowed).toBe(false);
    expect(isAllowed("::1", ["127.0.0.0/8"]).allowed).toBe(false);
    expect(isAllowed("::1", ["::1/128"]).allowed).toBe(true);
    expect(isAllowed("fd12::1", ["fd00::/8"]).allowed).toBe(true);
  });

  test("an IPv4 entry also covers the IPv4-mapped and NAT64 forms of its addresses", () => {
    expect(isAllowed("::ffff:10.0.0.5", ["10.0.0.0/8"]).allowed).toBe(true);
    expect(isAllowed("64:ff9b::a00:5", ["10.0.0.0/8"]).allowed).toBe(true);
    expect(isAllowed("64:ff9b::a00:5", ["192.168.0.0/16"]).allowed).toBe(false);
  });

  test("metadata endpoints need an entry naming exactly them, not a wider range", () => {
    expect(isAllowed("169.254.169.254", ["169.254.0.0/16"]).allowed).toBe(false);
    expect(isAllowed("169.254.169.254", ["0.0.0.0/0"]).allowed).toBe(false);
    expect(isAllowed("100.100.100.200", ["100.64.0.0/10"]).allowed).toBe(false);
    expect(isAllowed("169.254.169.254", ["169.254.169.254/32"]).allowed).toBe(true);
    expect(isAllowed("169.254.169.254", ["169.254.169.254"]).allowed).toBe(true);
    expect(isAllowed("fd00:ec2::254", ["fd00::/8"]).allowed).toBe(false);
    expect(isAllowed("169.254.1.1", ["169.254.0.0/16"]).allowed).toBe(true);
  });

  test("malformed entries match nothing", () => {
    expect(isAllowed("10.0.0.5", ["10.0.0.0/40", "garbage"]).allowed).toBe(false);
  });
});

const refusal = async (p: Promise<unknown>): Promise<OutboundRefused> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof OutboundRefused) return e;
    throw e;
  }
  throw new Error("expected OutboundRefused, got success");
};

describe("checkOutboundUrl", () => {
  test("only http and https", async () => {
    for (const url of ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com:70/1", "data:text/plain,hi", "javascript:alert(1)", "dict://127.0.0.1:11211/", "ws://example.com/"]) {
      const e = await refusal(checkOutboundUrl(url, { allowCidrs: [], what: "source_url" }));
      expect(e.reason).toBe("scheme");
      expect(e.message).toContain("only http:// and https:// URLs are fetched");
    }
    expect((await refusal(checkOutboundUrl("not a url", { allowCidrs: [] }))).reason).toBe("invalid-url");
  });

  test("literal addresses in every spelling the URL parser accepts", async () => {
    for (const [url, address, kind] of [
      ["http://127.0.0.1/x", "127.0.0.1", "loopback"],
      ["http://2130706433/x", "127.0.0.1", "loopback"],
      ["http://0x7f.1/x", "127.0.0.1", "loopback"],
      ["http://127.1:8080/x", "127.0.0.1", "loopback"],
      ["http://0/x", "0.0.0.0", "unspecified"],
      ["http://[::1]/x", "::1", "loopback"],
      ["http://[::ffff:127.0.0.1]/x", "127.0.0.1", "loopback"],
      ["http://[::]/x", "::", "unspecified"],
      ["https://10.0.0.5/x", "10.0.0.5", "private"],
      ["http://169.254.169.254/latest/meta-data/", "169.254.169.254", "metadata"],
      ["http://[fd00:ec2::254]/", "fd00:ec2::254", "metadata"],
      ["http://[64:ff9b::10.0.0.1]/", "64:ff9b::a00:1", "private"],
    ] as const) {
      const e = await refusal(checkOutboundUrl(url, { allowCidrs: [], what: "source_url" }));
      expect([e.reason, e.address, e.kind]).toEqual(["address", address, kind]);
    }
  });

  test("the message says what is refused and how to allow it", async () => {
    const e = await refusal(checkOutboundUrl("http://10.0.0.5/v.mp4", { allowCidrs: [], what: "source_url" }));
    expect(e.message).toBe("source_url address 10.0.0.5 is a private address; outbound requests to private networks are refused unless OUTBOUND_ALLOW_CIDRS includes them");
    const dns = await refusal(checkOutboundUrl("http://example.internal/v.mp4", { allowCidrs: [], what: "source_url", lookup: async () => ["10.0.0.5"] }));
    expect(dns.message).toBe(
      'source_url host "example.internal" resolves to 10.0.0.5, a private address; outbound requests to private networks are refused unless OUTBOUND_ALLOW_CIDRS includes them',
    );
    const md = await refusal(checkOutboundUrl("http://169.254.169.254/", { allowCidrs: ["169.254.0.0/16"] }));
    expect(md.message).toContain("OUTBOUND_ALLOW_CIDRS names that exact address (169.254.169.254/32)");
  });

  test("credentials are accepted but never shown", async () => {
    const e = await refusal(checkOutboundUrl("ftp://alice:s3cret@example.com/x?token=t0k", { allowCidrs: [] }));
    expect(e.message).not.toContain("s3cret");
    expect(e.message).not.toContain("alice");
    expect(e.message).not.toContain("t0k");
    expect(redactUrl("https://alice:s3cret@example.com/a/b?sig=xyz")).toBe("https://***@example.com/a/b?…");
    const ok = await checkOutboundUrl("http://alice:s3cret@8.8.8.8/x", { allowCidrs: [] });
    expect(ok.url.username).toBe("alice");
  });

  test("host names are resolved (real DNS): localhost is loopback", async () => {
    for (const host of ["localhost", "localhost."]) {
      const e = await refusal(checkOutboundUrl(`http://${host}:8080/x`, { allowCidrs: [], what: "source_url" }));
      expect(e.reason).toBe("address");
      expect(e.kind).toBe("loopback");
      expect(e.message).toContain(`source_url host "${host}" resolves to`);
    }
    const ok = await checkOutboundUrl("http://localhost:8080/x", { allowCidrs: ["127.0.0.0/8", "::1/128"] });
    expect(ok.addresses.length).toBeGreaterThan(0);
  });

  test("every resolved address must pass, not just the first", async () => {
    const lookup = async () => ["93.184.216.34", "2606:2800:220:1::1", "192.168.1.10"];
    const e = await refusal(checkOutboundUrl("https://mixed.example/x", { allowCidrs: [], lookup }));
    expect(e.address).toBe("192.168.1.10");
    const ok = await checkOutboundUrl("https://mixed.example/x", { allowCidrs: ["192.168.1.0/24"], lookup });
    expect(ok.addresses).toEqual(["93.184.216.34", "2606:2800:220:1::1", "192.168.1.10"]);
  });

  test("names that do not resolve are refused with the resolver's code; slow DNS times out", async () => {
    const e = await refusal(checkOutboundUrl("http://no-such-host.invalid/x", { allowCidrs: [] }));
    expect(e.reason).toBe("unresolvable");
    expect(e.message).toMatch(/^URL host "no-such-host.invalid" does not resolve/);
    const never = () => new Promise<string[]>(() => {});
    await expect(checkOutboundUrl("http://slow.example/x", { allowCidrs: [], lookup: never, dnsTimeoutMs: 50 })).rejects.toBeInstanceOf(OutboundTimeout);
  });

  test("allowed by OUTBOUND_ALLOW_CIDRS", async () => {
    const ok = await checkOutboundUrl("http://10.1.2.3:9000/bucket/x", { allowCidrs: ["10.0.0.0/8"] });
    expect(ok.addresses).toEqual(["10.1.2.3"]);
    expect(ok.url.port).toBe("9000");
  });
});

describe("guardedFetch against a real server on loopback", () => {
  let server: ReturnType<typeof Bun.serve>;
  let base = "";
  const seen: Array<{ path: string; method: string; auth: string | null; body: string }> = [];
  const LOOPBACK_ONLY = ["127.0.0.1/32"];

  beforeAll(() => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const u = new URL(req.url);
        seen.push({ path: u.pathname, method: req.method, auth: req.headers.get("authorization"), body: await req.text() });
        const to = (status: number, location: string) => new Response("moved", { status, headers: { location } });
        switch (u.pathname) {
          case "/to-private":
            return to(302, "http://10.0.0.1/x");
          case "/to-metadata":
            return to(301, "http://169.254.169.254/latest/meta-data/");
          case "/to-file":
            return to(302, "file:///etc/passwd");
          case "/to-localhost-name":
            return to(307, `http://localhost:${u.port}/ok`);
          case "/hop1":
            return to(302, "/hop2");
          case "/hop2":
            return to(303, `${base}/ok`);
          case "/post-307":
            return to(307, "/echo");
          case "/loop":
            return to(302, "/loop");
          case "/slow":
            await Bun.sleep(20_000);
            return new Response("late");
          case "/echo":
            return new Response(`${req.method}:${seen.at(-1)!.body}`);
          default:
            return new Response("ok");
        }
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.stop(true));

  test("a redirect to a private address is refused before it is requested", async () => {
    const e = await refusal(guardedFetch(`${base}/to-private`, undefined, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000, what: "source_url" }));
    expect(e.reason).toBe("address");
    expect(e.address).toBe("10.0.0.1");
    expect(e.message).toBe(
      "source_url redirects to http://10.0.0.1/x; address 10.0.0.1 is a private address; outbound requests to private networks are refused unless OUTBOUND_ALLOW_CIDRS includes them",
    );
  });

  test("redirects to metadata, to file:// and to a name resolving to loopback are refused", async () => {
    expect((await refusal(guardedFetch(`${base}/to-metadata`, undefined, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000 }))).kind).toBe("metadata");
    expect((await refusal(guardedFetch(`${base}/to-file`, undefined, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000 }))).reason).toBe("scheme");
    // localhost resolves to 127.0.0.1 (and maybe ::1): allowed only when every answer is.
    const viaName = await guardedFetch(`${base}/to-localhost-name`, undefined, { allowCidrs: ["127.0.0.0/8", "::1/128"], timeoutMs: 5_000 });
    expect(await viaName.text()).toBe("ok");
    const refused = await refusal(guardedFetch(`${base}/to-localhost-name`, undefined, { allowCidrs: ["127.0.0.1/32"], timeoutMs: 5_000 }).then(() => guardedFetch(`http://localhost:${server.port}/ok`, undefined, { allowCidrs: [], timeoutMs: 5_000 })));
    expect(refused.kind).toBe("loopback");
    expect(refused.message).toStartWith(`URL host "localhost" resolves to`);
    const scheme = await refusal(guardedFetch(`${base}/to-file`, undefined, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000, what: "source_url" }));
    expect(scheme.message).toBe("source_url redirects to file:///etc/passwd; the file: scheme is refused; only http:// and https:// URLs are fetched");
  });

  test("the first URL itself is checked: loopback refused without an allowlist entry", async () => {
    const before = seen.length;
    const e = await refusal(guardedFetch(`${base}/ok`, undefined, { allowCidrs: [], timeoutMs: 5_000 }));
    expect(e.kind).toBe("loopback");
    expect(seen.length).toBe(before); // nothing was sent
  });

  test("allowed redirects are followed, relative and absolute; a POST continues as GET after 302 and 303", async () => {
    const r = await guardedFetchDetailed(`${base}/hop1`, { method: "POST", body: "x" }, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000 });
    expect(r.response.status).toBe(200);
    expect(await r.response.text()).toBe("ok");
    expect(r.redirects).toBe(2);
    expect(r.url.href).toBe(`${base}/ok`);
    expect(seen.slice(-3).map((s) => `${s.method} ${s.path}`)).toEqual(["POST /hop1", "GET /hop2", "GET /ok"]);
  });

  test("303 turns any method into GET; credentials do not follow to another origin", async () => {
    await (await guardedFetch(`${base}/hop2`, { method: "PUT", body: "x" }, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000 })).text();
    expect(seen.slice(-2).map((s) => `${s.method} ${s.path}`)).toEqual(["PUT /hop2", "GET /ok"]);
    await (await guardedFetch(`${base}/hop1`, { headers: { authorization: "Bearer same-origin" } }, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000 })).text();
    expect(seen.slice(-3).map((s) => s.auth)).toEqual(["Bearer same-origin", "Bearer same-origin", "Bearer same-origin"]);
    await (await guardedFetch(`${base}/to-localhost-name`, { headers: { authorization: "Bearer secret" } }, { allowCidrs: ["127.0.0.0/8", "::1/128"], timeoutMs: 5_000 })).text();
    expect(seen.slice(-2).map((s) => [s.path, s.auth])).toEqual([["/to-localhost-name", "Bearer secret"], ["/ok", null]]);
  });

  test("307 keeps the method and body", async () => {
    const r = await guardedFetch(`${base}/post-307`, { method: "POST", body: "payload" }, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000 });
    expect(await r.text()).toBe("POST:payload");
  });

  test("at most maxRedirects hops", async () => {
    const e = await refusal(guardedFetch(`${base}/loop`, undefined, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 5_000, maxRedirects: 3 }));
    expect(e.reason).toBe("too-many-redirects");
    expect(e.message).toContain("more than 3 times");
  });

  test("a server that does not answer in time", async () => {
    const started = Date.now();
    await expect(guardedFetch(`${base}/slow`, undefined, { allowCidrs: LOOPBACK_ONLY, timeoutMs: 200 })).rejects.toBeInstanceOf(OutboundTimeout);
    expect(Date.now() - started).toBeLessThan(10_000); // at the 200 ms timeout, not when the server answers (20 s)
  });

  test("resolveSourceUrl: the final URL for FFmpeg, WE-JOB-002 for a refused hop, the checked URL when unreachable", async () => {
    expect(await resolveSourceUrl(`${base}/hop1`, { allowCidrs: LOOPBACK_ONLY })).toBe(`${base}/ok`);
    expect(seen.at(-1)?.method).toBe("GET");
    try {
      await resolveSourceUrl(`${base}/to-private`, { allowCidrs: LOOPBACK_ONLY });
      throw new Error("not refused");
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe("WE-JOB-002");
      expect((e as AppError).details).toMatchObject({ reason: "address", address: "10.0.0.1", address_kind: "private" });
    }
    // Nothing listens on port 1: FFmpeg gets the checked URL and reports the failure itself.
    expect(await resolveSourceUrl("http://127.0.0.1:1/x.mp4", { allowCidrs: LOOPBACK_ONLY })).toBe("http://127.0.0.1:1/x.mp4");
  });
});

describe("FFmpeg arguments", () => {
  test("-max_redirects 0 goes before http(s) inputs only (media/input-policy.ts puts it before every -i)", () => {
    expect(probeInputOptions("HTTP://h/x")).toEqual(["-max_redirects", "0"]);
    expect(probeInputOptions("/data/in.mp4")).toEqual([]);
  });
});
