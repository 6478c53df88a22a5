// Verifier friendliness: idiomatic TypeScript for common filter tasks must verify, with
// few processed instructions, and behave as written. The headline case is counting
// zero bytes, whose C twin (clang -O2) exceeds the verifier's 1M-instruction budget.
import { afterAll, beforeAll, expect, it } from "vitest";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { compileBpfC } from "../differential/clang.ts";
import { openObject, mapUpdate, mapLookup, type LoadedObject } from "../../native/object.ts";
import { testRun } from "../../native/bpf.ts";
import {
  build as packet,
  udp4,
  tcp4,
  tcp6,
  ipv6,
  ipv4ToU32,
  TCP_SYN,
  TCP_ACK,
} from "../../runtime/packets/build.ts";
import { prng } from "../support/crafted.ts";
import { XDP_DROP, XDP_PASS, XDP_REDIRECT } from "../support/xdp.ts";
import { buildFilter, privatePinRoot, repo, verify } from "./objects.ts";

const FIXTURES = [
  "zero_bytes",
  "ihl_ports",
  "qinq_udp",
  "ipv6_tcp",
  "map_array_loop",
  "nested_helpers",
  "many_maps",
  "big_value",
  "raw_offsets",
  "count_bytes",
  "div_zero",
];
/** Far below the 1M budget: a regression that multiplies verifier states shows up here. */
const BUDGET = 20_000;

const u16le = (v: number) => Uint8Array.of(v & 0xff, v >> 8);
const u32le = (v: number) => Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24);

describeKernel("verifier friendliness: natural code verifies", () => {
  let pins: ReturnType<typeof privatePinRoot>;
  const open: LoadedObject[] = [];
  beforeAll(() => {
    pins = privatePinRoot();
  });
  afterAll(() => {
    for (const o of open) o.close();
    pins.remove();
  });
  const load = (name: string) => {
    const obj = openObject(buildFilter(`test/accept/fixtures/${name}.ts`).object, {
      name: "xdpct",
      pinRoot: pins.dir,
    });
    open.push(obj);
    obj.load();
    return { obj, fd: obj.programFd(name) };
  };

  for (const name of FIXTURES) {
    it(`${name} verifies within ${BUDGET} processed instructions`, () => {
      const stats = verify(buildFilter(`test/accept/fixtures/${name}.ts`).object, pins.dir);
      expect(stats[name], JSON.stringify(stats)).toBeDefined();
      expect(stats[name]!.accepted, stats[name]!.tail).toBe(true);
      expect(stats[name]!.processed).toBeGreaterThan(0);
      expect(stats[name]!.processed).toBeLessThan(BUDGET);
      console.log(`[verifier] ${name}: ${stats[name]!.processed} insns processed`);
    });
  }

  it("zero_bytes: ours verifies, clang -O2's C twin exceeds the 1M-instruction budget", () => {
    const ours = verify(
      buildFilter("test/accept/fixtures/zero_bytes.ts").object,
      pins.dir,
    ).zero_bytes!;
    const theirs = verify(
      compileBpfC({ path: join(repo, "test/accept/fixtures/zero_bytes.c") }),
      pins.dir,
    ).zero_bytes!;
    console.log(
      `[verifier] zero_bytes: xdpc ${ours.processed} insns processed (accepted); clang -O2 ${theirs.processed} (rejected)`,
    );
    expect(ours.accepted).toBe(true);
    expect(ours.processed).toBeLessThan(10_000);
    expect(theirs.accepted).toBe(false);
    expect(theirs.tail).toMatch(/too large|too complex/);
    expect(theirs.processed).toBeGreaterThan(1_000_000);
  });

  it("zero_bytes counts zero payload bytes", () => {
    const { fd } = load("zero_bytes");
    const zeros = (n: number, len = 32) =>
      udp4(
        { dport: 9 },
        {},
        Uint8Array.from({ length: len }, (_, i) => (i < n ? 0 : 0x55)),
      );
    expect(testRun(fd, zeros(32)).retval).toBe(XDP_DROP);
    expect(testRun(fd, zeros(17)).retval).toBe(XDP_DROP);
    expect(testRun(fd, zeros(16)).retval).toBe(XDP_PASS);
    expect(testRun(fd, zeros(16, 16)).retval).toBe(XDP_PASS); // short payload: the loop stops at the end
    expect(testRun(fd, zeros(17, 17)).retval).toBe(XDP_DROP);
    expect(testRun(fd, tcp4({ dport: 9 }, {}, new Uint8Array(32))).retval).toBe(XDP_PASS);
  });

  it("ihl_ports reads ports after IPv4 options, through accessors and by hand", () => {
    const { obj, fd } = load("ihl_ports");
    mapUpdate(obj.mapFd("blocked"), u16le(80), Uint8Array.of(1));
    const opts = Uint8Array.of(0x94, 0x04, 0, 0, 1, 1, 1, 0); // router alert + 2 NOPs + EOL: ihl 7
    expect(testRun(fd, tcp4({ dport: 80 }, { options: opts })).retval).toBe(XDP_DROP);
    expect(testRun(fd, udp4({ dport: 80 }, { options: opts })).retval).toBe(XDP_DROP);
    expect(testRun(fd, tcp4({ dport: 80 })).retval).toBe(XDP_DROP);
    expect(testRun(fd, tcp4({ dport: 81 }, { options: opts })).retval).toBe(XDP_PASS);
    expect(testRun(fd, tcp4({ dport: 80 }, { options: opts, fragOffset: 8 })).retval).toBe(
      XDP_PASS,
    );
  });

  it("qinq_udp applies the inner VLAN's policy", () => {
    const { obj, fd } = load("qinq_udp");
    mapUpdate(obj.mapFd("policy"), u32le(42), Uint8Array.of(53, 0, 1, 0)); // dropPort 53, enabled
    const qinq = (inner: number, dport: number) =>
      packet({
        eth: { vlans: [{ tpid: 0x88a8, vid: 7 }, { vid: inner }] },
        l3: { kind: "ipv4" },
        l4: { kind: "udp", dport },
      });
    expect(testRun(fd, qinq(42, 53)).retval).toBe(XDP_DROP);
    expect(testRun(fd, qinq(42, 54)).retval).toBe(XDP_PASS);
    expect(testRun(fd, qinq(43, 53)).retval).toBe(XDP_PASS);
    expect(testRun(fd, udp4({ dport: 53 })).retval).toBe(XDP_PASS);
  });

  it("ipv6_tcp drops SYNs to port 22 from a blocked /64", () => {
    const { obj, fd } = load("ipv6_tcp");
    mapUpdate(obj.mapFd("blockedNets"), ipv6("2001:db8::").slice(0, 8), Uint8Array.of(1));
    expect(testRun(fd, tcp6({ dport: 22, flags: TCP_SYN }, { src: "2001:db8::9" })).retval).toBe(
      XDP_DROP,
    );
    expect(
      testRun(fd, tcp6({ dport: 22, flags: TCP_SYN | TCP_ACK }, { src: "2001:db8::9" })).retval,
    ).toBe(XDP_PASS);
    expect(testRun(fd, tcp6({ dport: 22, flags: TCP_SYN }, { src: "2001:db9::9" })).retval).toBe(
      XDP_PASS,
    );
    expect(testRun(fd, tcp6({ dport: 23, flags: TCP_SYN }, { src: "2001:db8::9" })).retval).toBe(
      XDP_PASS,
    );
  });

  it("map_array_loop scans a FixedArray in a map value and counts hits", () => {
    const { obj, fd } = load("map_array_loop");
    const m = obj.map("lists");
    const v = new Uint8Array(m.valueSize);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, 3, true); // count
    [53, 123, 443].forEach((p, i) => dv.setUint16(4 + 2 * i, p, true));
    dv.setUint16(4 + 2 * 3, 8080, true); // beyond count: ignored
    mapUpdate(m.fd, u32le(0), v);
    expect(testRun(fd, udp4({ dport: 443 })).retval).toBe(XDP_PASS);
    expect(testRun(fd, udp4({ dport: 443 })).retval).toBe(XDP_PASS);
    expect(testRun(fd, udp4({ dport: 8080 })).retval).toBe(XDP_DROP);
    const after = new DataView(mapLookup(m.fd, u32le(0), m.valueSize)!.buffer);
    expect(after.getBigUint64(40 + 8 * 2, true)).toBe(2n); // hits[2] (port 443)
  });

  it("nested_helpers classifies through four levels of helpers", () => {
    const { fd } = load("nested_helpers");
    expect(testRun(fd, udp4({ dport: 53 }, { ttl: 1 })).retval).toBe(XDP_DROP);
    expect(testRun(fd, udp4({ dport: 53 })).retval).toBe(XDP_PASS);
    expect(testRun(fd, tcp4({ dport: 8080 })).retval).toBe(XDP_PASS);
  });

  it("big_value reaches fields beyond the 16-bit load/store offset of a map value", () => {
    const { obj, fd } = load("big_value");
    const m = obj.map("hist");
    expect(m.valueSize).toBe(8192 * 8 + 8 + 8);
    for (let k = 0; k < 3; k++) expect(testRun(fd, udp4({ dport: 0x1234 })).retval).toBe(XDP_PASS);
    const v = new DataView(mapLookup(m.fd, u32le(0), m.valueSize)!.buffer);
    expect(v.getBigUint64(8 * 0x1234, true)).toBe(3n); // byPort[0x1234 & 0x1fff]
    expect(v.getBigUint64(8192 * 8, true)).toBe(3n); // total, at 64 KiB
    expect(v.getUint32(8192 * 8 + 8, true)).toBe(0x1234); // last.port
    expect(v.getUint32(8192 * 8 + 12, true)).toBe(42); // last.len: the frame length
  });

  it("raw_offsets loads at offsets taken from the packet (any u16 to the verifier)", () => {
    const { fd } = load("raw_offsets");
    const frame = (at: number, tail: number[]) =>
      udp4({ dport: 9 }, {}, Uint8Array.from([at >> 8, at & 0xff, ...tail]));
    expect(testRun(fd, frame(44, [0xff])).retval).toBe(XDP_DROP); // byte 44 is the first tail byte
    expect(testRun(fd, frame(44, [0x01])).retval).toBe(XDP_PASS);
    expect(testRun(fd, frame(44, [0x01, 0xde, 0xad, 0xbe, 0xef])).retval).toBe(XDP_DROP);
    expect(testRun(fd, frame(0xfffe, [0xff])).retval).toBe(XDP_PASS); // beyond the frame: null
  });

  it("count_bytes: every if-converted comparison counts exactly what the branch would", () => {
    const { obj, fd } = load("count_bytes");
    const m = obj.map("counts");
    const rnd = prng(2026);
    const edge = [0, 1, 9, 10, 0x1f, 0x20, 0x2f, 0x30, 0x7f, 0x80, 0xfe, 0xff];
    for (let run = 0; run < 40; run++) {
      const len = run < 30 ? 32 : Math.floor(rnd() * 40);
      const payload = Uint8Array.from({ length: len }, () =>
        rnd() < 0.5 ? edge[Math.floor(rnd() * edge.length)]! : Math.floor(rnd() * 256),
      );
      expect(testRun(fd, udp4({ dport: 9 }, {}, payload)).retval).toBe(XDP_PASS);
      const want = { high: 0, ff: 0, ctrl: 0, digitOrAbove: 0, upTo9: 0, nonZero: 0, rising: 0 };
      let prev = 0;
      for (const b of payload.slice(0, 32)) {
        want.high += b > 0x7f ? 1 : 0;
        want.ff += b === 0xff ? 1 : 0;
        want.ctrl += b < 0x20 ? 1 : 0;
        want.digitOrAbove += b >= 0x30 ? 1 : 0;
        want.upTo9 += b <= 9 ? 2 : 0;
        want.nonZero += b !== 0 ? 1 : 0;
        want.rising += b > prev ? 1 : 0;
        prev = b;
      }
      const v = new DataView(mapLookup(m.fd, u32le(0), m.valueSize)!.buffer);
      const got = Object.fromEntries(
        Object.keys(want).map((k, i) => [k, v.getUint32(4 * i, true)]),
      );
      expect(got, `payload ${Array.from(payload).join(",")}`).toEqual(want);
    }
  });

  it("div_zero: x / 0 = 0 and x % 0 = x, for constant and run-time zero divisors", () => {
    const { obj, fd } = load("div_zero");
    const frame = udp4({ dport: 9 }); // 42 bytes
    expect(frame.length).toBe(42);
    expect(testRun(fd, frame).retval).toBe(XDP_PASS);
    const got = [0, 1, 2, 3, 4, 5, 6, 7].map((k) =>
      new DataView(mapLookup(obj.mapFd("out"), u32le(k), 8)!.buffer).getBigUint64(0, true),
    );
    expect(got).toEqual([0n, 1042n, 0n, 1042n, 0n, 42n, 0n, 1042n]);
  });

  it("many_maps uses twelve maps in one program", () => {
    const { obj, fd } = load("many_maps");
    expect(obj.mapNames().filter((n) => !n.includes("."))).toHaveLength(12);
    // Addresses are host-order u32 values (LANGUAGE.md §5), so keys hold them little-endian.
    const host = (a: string) => u32le(ipv4ToU32(a));
    // LpmTrie key fields after prefixlen are big-endian in the map (docs/language.md).
    mapUpdate(obj.mapFd("deny"), Uint8Array.of(32, 0, 0, 0, 198, 18, 0, 9), Uint8Array.of(1));
    mapUpdate(obj.mapFd("ports"), u16le(53), Uint8Array.of(1));
    expect(testRun(fd, udp4({ dport: 54 }, { src: "198.18.0.9" })).retval).toBe(XDP_DROP);
    expect(testRun(fd, udp4({ dport: 54 }, { src: "198.18.0.8" })).retval).toBe(XDP_PASS);
    expect(testRun(fd, udp4({ dport: 53 }, { src: "198.18.0.1" })).retval).toBe(XDP_DROP); // port listed, mode 0
    mapUpdate(obj.mapFd("config"), u32le(0), u32le(1));
    expect(testRun(fd, udp4({ dport: 53 }, { src: "198.18.0.1" })).retval).toBe(XDP_DROP); // devmap slot empty: fallback
    mapUpdate(obj.mapFd("out"), u32le(0), u32le(1)); // lo
    expect(testRun(fd, udp4({ dport: 53 }, { src: "198.18.0.1" })).retval).toBe(XDP_REDIRECT);
    expect(testRun(fd, udp4({ dport: 54 }, { src: "198.18.0.1" })).retval).toBe(XDP_PASS);
    const n = mapLookup(obj.mapFd("bySrc"), host("198.18.0.1"), 8);
    expect(n && new DataView(n.buffer).getBigUint64(0, true)).toBe(4n);
  });
});
