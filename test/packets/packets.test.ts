import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  build,
  concat,
  dnsQuery,
  ETH_P_8021AD,
  ETH_P_8021Q,
  fragmentIpv4,
  fromHex,
  hex,
  inetChecksum,
  ipv4,
  ipv6,
  TCP_ACK,
  TCP_SYN,
  tcp4,
  udp4,
  udp6,
  type Bytes,
  type PacketSpec,
} from "../../runtime/packets/build.ts";
import { arbPacket, arbPacketSpec, craftedCorpus, truncations } from "../support/crafted.ts";
import { writePcap, writePcapng } from "../../runtime/packets/pcap.ts";

/** Offset of the L3 header: 14 plus 4 per VLAN tag. */
function l3Offset(p: Bytes): { at: number; type: number } {
  let at = 12;
  let type = (p[at]! << 8) | p[at + 1]!;
  while (type === ETH_P_8021Q || type === ETH_P_8021AD) {
    at += 4;
    type = (p[at]! << 8) | p[at + 1]!;
  }
  return { at: at + 2, type };
}

/** Verifies IPv4 header and L4 checksums by summing over the received bytes (result must be 0). */
function checksumsOk(p: Bytes): boolean {
  const { at, type } = l3Offset(p);
  if (type === 0x0800) {
    const ihl = (p[at]! & 0xf) * 4;
    if (inetChecksum(p.subarray(at, at + ihl)) !== 0) return false;
    const proto = p[at + 9]!;
    const seg = p.subarray(at + ihl);
    if (![1, 6, 17].includes(proto)) return true;
    if (proto === 1) return inetChecksum(seg) === 0;
    const pseudo = concat(
      p.subarray(at + 12, at + 20),
      Uint8Array.of(0, proto, seg.length >> 8, seg.length & 0xff),
    );
    return inetChecksum(pseudo, seg) === 0;
  }
  if (type === 0x86dd) {
    const seg = p.subarray(at + 40);
    const nh = p[at + 6]!;
    if (![6, 17, 58].includes(nh)) return true;
    const pseudo = concat(
      p.subarray(at + 8, at + 40),
      Uint8Array.of(0, 0, seg.length >> 8, seg.length & 0xff, 0, 0, 0, nh),
    );
    return inetChecksum(pseudo, seg) === 0;
  }
  return true;
}

describe("packet crafting", () => {
  it("parses addresses", () => {
    expect([...ipv4("198.18.0.1")]).toEqual([198, 18, 0, 1]);
    expect(hex(ipv6("2001:db8::1"))).toBe("20010db8000000000000000000000001");
    expect(hex(ipv6("::"))).toBe("0".repeat(32));
    expect(hex(ipv6("fe80::1:2"))).toBe("fe800000000000000000000000010002");
    expect(hex(ipv6("1:2:3:4:5:6:7:8"))).toBe("00010002000300040005000600070008");
    expect(() => ipv4("1.2.3")).toThrow();
    expect(() => ipv6("1::2::3")).toThrow();
  });

  it("computes the RFC 1071 example checksum", () => {
    // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
    expect(inetChecksum(fromHex("0001f203f4f5f6f7"))).toBe(0x220d);
    expect(inetChecksum(fromHex("01"))).toBe(0xfeff);
  });

  it("builds a UDP/IPv4 packet byte for byte", () => {
    const p = udp4({ sport: 1234, dport: 53 }, { id: 1, ttl: 64 }, fromHex("abcd"));
    expect(hex(p)).toBe(
      "020000000002" +
        "020000000001" +
        "0800" +
        "4500001e" +
        "00010000" +
        "4011" +
        hex(p.subarray(24, 26)) +
        "c6120001" +
        "c6130001" +
        "04d20035000a" +
        hex(p.subarray(40, 42)) +
        "abcd",
    );
    expect(checksumsOk(p)).toBe(true);
  });

  it("puts VLAN tags in order, outermost first, with the L3 type last", () => {
    const p = build({
      eth: {
        vlans: [
          { tpid: ETH_P_8021AD, vid: 10, pcp: 5 },
          { vid: 4095, dei: true },
        ],
      },
      l4: { kind: "udp" },
    });
    expect(hex(p.subarray(12, 22))).toBe("88a8" + "a00a" + "8100" + "1fff" + "0800");
    expect(l3Offset(p).at).toBe(22);
    expect(checksumsOk(p)).toBe(true);
  });

  it("honours IPv4 overrides (ihl, version, checksum, total length, flags)", () => {
    const p = build({
      l3: {
        kind: "ipv4",
        ihl: 3,
        version: 6,
        checksum: 0xbeef,
        totalLength: 7,
        df: true,
        mf: true,
        rf: true,
        fragOffset: 0x123,
      },
      l4: { kind: "udp" },
    });
    expect(p[14]).toBe(0x63);
    expect(hex(p.subarray(16, 18))).toBe("0007");
    expect(hex(p.subarray(20, 22))).toBe("e123");
    expect(hex(p.subarray(24, 26))).toBe("beef");
  });

  it("pads IPv4 and TCP options to 4 bytes and sets IHL / data offset", () => {
    const p = build({
      l3: { kind: "ipv4", options: fromHex("0101 01") },
      l4: { kind: "tcp", options: fromHex("020405b4 01") },
    });
    expect(p[14]! & 0xf).toBe(6);
    const tcp = 14 + 24;
    expect(p[tcp + 12]! >> 4).toBe(7);
    expect(checksumsOk(p)).toBe(true);
  });

  it("sets TCP flags and ICMP/ICMPv6 types", () => {
    const p = tcp4({ flags: TCP_SYN | TCP_ACK });
    expect(p[14 + 20 + 13]).toBe(0x12);
    const e = build({ l4: { kind: "icmp", type: 0 }, payload: new Uint8Array(5) });
    expect(e[34]).toBe(0);
    expect(checksumsOk(e)).toBe(true);
    const e6 = build({ l3: { kind: "ipv6" }, l4: { kind: "icmp6" } });
    expect([e6[20], e6[54]]).toEqual([58, 128]);
    expect(checksumsOk(e6)).toBe(true);
  });

  it("sends a zero UDP checksum as 0xffff", () => {
    // Search a payload whose checksum comes out 0 and check that it is replaced.
    for (let i = 0; i < 0x10000; i++) {
      const pl = Uint8Array.of(i >> 8, i & 0xff);
      const raw = build({ l4: { kind: "udp", checksum: 0 }, payload: pl });
      const sum = inetChecksum(
        concat(raw.subarray(26, 34), Uint8Array.of(0, 17, 0, 10)),
        raw.subarray(34),
      );
      if (sum === 0) {
        const p = udp4({}, {}, pl);
        expect(hex(p.subarray(40, 42))).toBe("ffff");
        expect(checksumsOk(p)).toBe(true);
        return;
      }
    }
    throw new Error("no payload with a zero checksum found");
  });

  it("encodes DNS queries", () => {
    expect(hex(dnsQuery("a.bc", 28, 7))).toBe(
      "0007" + "0100" + "0001000000000000" + "0161" + "026263" + "00" + "001c0001",
    );
  });

  it("truncations are every proper prefix", () => {
    const p = udp6();
    const t = truncations(p);
    expect(t.map((x) => x.length)).toEqual([...Array(p.length).keys()]);
    t.forEach((x) => expect(hex(p).startsWith(hex(x))).toBe(true));
    expect(truncations(p, 14)[0]!.length).toBe(14);
  });

  it("fragments an IPv4 datagram into first/middle/last that reassemble to the original", () => {
    const spec: PacketSpec = {
      l3: { kind: "ipv4", id: 9 },
      l4: { kind: "udp" },
      payload: Uint8Array.from({ length: 50 }, (_, i) => i),
    };
    const whole = build(spec);
    const frags = fragmentIpv4(spec, 20);
    expect(frags.length).toBe(4); // 58 bytes of UDP in 16-byte pieces
    const flagOff = frags.map((f) => (f[20]! << 8) | f[21]!);
    expect(flagOff).toEqual([0x2000, 0x2002, 0x2004, 0x0006]);
    for (const f of frags) expect(inetChecksum(f.subarray(14, 34))).toBe(0);
    expect(hex(concat(...frags.map((f) => f.subarray(34))))).toBe(hex(whole.subarray(34)));
  });

  it("the crafted corpus is deterministic, named uniquely and runnable (>= 14 bytes)", () => {
    const a = craftedCorpus();
    const b = craftedCorpus();
    expect(a.map((p) => hex(p.data))).toEqual(b.map((p) => hex(p.data)));
    expect(new Set(a.map((p) => p.name)).size).toBe(a.length);
    expect(a.every((p) => p.data.length >= 14)).toBe(true);
    const names = a.map((p) => p.name).join(" ");
    for (const kind of [
      "trunc-14",
      "qinq",
      "vlan",
      "ipv4-opt",
      "ipv4-ihl-15",
      "ipv4-version-6",
      "frag-first",
      "frag-middle",
      "frag-last",
      "tcp6",
      "syn-ack",
      "rst",
      "fin",
      "xmas",
      "null",
      "dns4",
      "icmp4-request",
      "icmp4-reply",
      "icmp6-reply",
      "arp-reply",
      "random-",
    ]) {
      expect(names, kind).toContain(kind);
    }
    // Every truncation length of the typical packets is there.
    const syn = a.find((p) => p.name === "tcp4-syn")!.data;
    for (let n = 14; n < syn.length; n++) expect(names).toContain(`tcp4-syn/trunc-${n} `);
  });

  it("every crafted packet without a deliberate fault has correct checksums", () => {
    const faulty =
      /trunc|ihl|version|bad-checksum|frag|random|hop-by-hop|totlen|doff|len-|no-checksum|paylen|tiny/;
    const checked = craftedCorpus().filter((p) => !faulty.test(p.name));
    expect(checked.length).toBeGreaterThan(100);
    for (const p of checked) expect(checksumsOk(p.data), p.name).toBe(true);
  });

  it("property: structured packets without header overrides have correct checksums and lengths", () => {
    fc.assert(
      fc.property(arbPacketSpec(), (spec) => {
        if (spec.l3?.kind === "ipv4") {
          delete spec.l3.ihl;
          delete spec.l3.version;
        }
        if (spec.l4?.kind === "tcp") delete spec.l4.dataOffset;
        const p = build(spec);
        expect(checksumsOk(p)).toBe(true);
        const { at, type } = l3Offset(p);
        if (type === 0x0800) expect((p[at + 2]! << 8) | p[at + 3]!).toBe(p.length - at);
        if (type === 0x86dd) expect((p[at + 4]! << 8) | p[at + 5]!).toBe(p.length - at - 40);
      }),
      { numRuns: 300 },
    );
  });

  it("property: truncated arbitrary packets respect the minimum length", () => {
    fc.assert(
      fc.property(arbPacket({ truncate: true }), (p) => {
        expect(p.length).toBeGreaterThanOrEqual(14);
      }),
    );
  });
});

// tcpdump, when installed, is an independent oracle for our checksums.
const tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].find(existsSync);
(tcpdump ? describe : describe.skip)(
  `crafted corpus through tcpdump -vvv${tcpdump ? "" : " [skipped: tcpdump not installed]"}`,
  () => {
    it("tcpdump reports no bad checksum except on packets built to have one", () => {
      const corpus = craftedCorpus().filter(
        (p) => !p.name.includes("trunc") && !p.name.startsWith("random"),
      );
      const dir = mkdtempSync(join(tmpdir(), "xdpc-packets-"));
      try {
        const file = join(dir, "crafted.pcap");
        writeFileSync(file, writePcap(corpus.map((p) => ({ data: p.data }))));
        const out = execFileSync(tcpdump!, ["-#", "-vvv", "-n", "-r", file], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        });
        const bad = new Set<string>();
        let n = 0;
        let okCount = 0;
        for (const line of out.split("\n")) {
          const m = /^ *(\d+) {2}/.exec(line);
          if (m) n = Number(m[1]);
          if (/bad cksum|bad udp cksum|incorrect/.test(line)) bad.add(corpus[n - 1]!.name);
          okCount += (line.match(/cksum 0x[0-9a-f]+ \(correct\)|sum ok/g) ?? []).length;
        }
        expect(n).toBe(corpus.length);
        expect(okCount).toBeGreaterThan(80);
        const expected = /ihl-(?!5)|bad-checksum|doff|hop-by-hop|ipv4-version-6/;
        expect([...bad].filter((name) => !expected.test(name))).toEqual([]);
        expect(bad.has("ipv4-bad-checksum") && bad.has("tcp-bad-checksum")).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("tcpdump reads the files our writer makes: pcapng and nanosecond pcap, both byte orders", () => {
      const pk = [
        { data: udp4(), ts: 1_700_000_000_123_456_789n },
        { data: udp6(), ts: 1_700_000_001_000_000_001n },
      ];
      const files = {
        "le.pcapng": writePcapng(pk),
        "be.pcapng": writePcapng(pk, { littleEndian: false }),
        "le-ns.pcap": writePcap(pk, { nanosecond: true }),
        "be-ns.pcap": writePcap(pk, { nanosecond: true, littleEndian: false }),
      };
      const dir = mkdtempSync(join(tmpdir(), "xdpc-packets-"));
      try {
        for (const [name, bytes] of Object.entries(files)) {
          writeFileSync(join(dir, name), bytes);
          const out = execFileSync(
            tcpdump!,
            ["--time-stamp-precision=nano", "-tt", "-n", "-r", join(dir, name)],
            {
              encoding: "utf8",
              stdio: ["ignore", "pipe", "ignore"],
            },
          );
          const lines = out.trim().split("\n");
          expect(
            lines.map((l) => l.split(" ")[0]),
            name,
          ).toEqual(["1700000000.123456789", "1700000001.000000001"]);
          expect(lines[0]).toContain("198.18.0.1.40000 > 198.19.0.1.53");
          expect(lines[1]).toContain("2001:db8::1.40000 > 2001:db8::2.53");
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
