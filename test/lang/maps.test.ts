// §2 items, §7 maps and methods, §8 helpers, globals and params, §6 redirects, in the kernel.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { build as packet, ipv4 } from "../../runtime/packets/build.ts";
import { mapUpdate, possibleCpus, mapLookup } from "../../native/object.ts";
import {
  build,
  lookup,
  lookupU64,
  perCpuSumU64,
  readGlobal,
  run,
  setParams,
  u32le,
} from "./harness.ts";

const udp = (sport: number, dport: number, payload = 4) =>
  packet({
    l3: { kind: "ipv4", src: "198.18.0.1", dst: "198.19.0.1" },
    l4: { kind: "udp", sport, dport },
    payload: new Uint8Array(payload),
  });
const le = (v: bigint, n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return b;
};
const u16le = (v: number) => le(BigInt(v), 2);
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

describeKernel("§7 maps, §8 helpers, globals and params (fixture maps)", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  beforeAll(() => {
    bytes = build("maps");
    obj = loadXdpObject(bytes);
  });
  afterAll(() => obj?.close());
  const out = (i: number) => lookupU64(obj, "out", u32le(i));

  it("builds the XDP programs of a file that also holds an AF_XDP handler", () => {
    expect(obj.programs.sort()).toEqual(["fib", "maps", "redir"]);
    expect(obj.object.map("sockets").type).toBe(17); // XSKMAP
    expect(obj.object.map("devs").type).toBe(14); // DEVMAP
    expect(obj.object.map("cpus").type).toBe(16); // CPUMAP
    expect(obj.object.map("prefixes").type).toBe(11); // LPM_TRIE
    expect(obj.object.map("events").type).toBe(27); // RINGBUF
    expect(obj.object.map("lruPc").type).toBe(10); // LRU_PERCPU_HASH
  });

  it("runs every map method and helper on two datagrams", () => {
    const p = udp(1111, 53);
    const len = BigInt(p.length);
    expect(run(obj, "maps", p).retval).toBe(2);
    expect(run(obj, "maps", p).retval).toBe(2);
    // update flags and delete
    expect(out(0)).toBe(0n);
    expect(out(1)).toBe(1n);
    expect(out(2)).toBe(1n);
    expect(out(3)).toBe(0n);
    expect(out(4)).toBe(0xdeadn);
    expect(out(5)).toBe(0n);
    // params (defaults) of every width and signedness
    expect(out(6)).toBe(7n);
    expect(out(7)).toBe(0xff00n);
    expect(out(8)).toBe(100_000n);
    expect(out(9)).toBe(0x1_0000_0000n);
    expect(BigInt.asIntN(64, out(10)!)).toBe(-3n);
    expect(BigInt.asIntN(64, out(11)!)).toBe(-300n);
    expect(BigInt.asIntN(64, out(12)!)).toBe(-70000n);
    expect(BigInt.asIntN(64, out(13)!)).toBe(-5n);
    expect(out(14)).toBe(1n);
    // globals: armed starts at 5 (.data) and is incremented per packet
    expect(out(15)).toBe(6n);
    expect(dv(readGlobal(obj, bytes, "armed")).getUint32(0, true)).toBe(7);
    expect(dv(readGlobal(obj, bytes, "hits")).getBigUint64(0, true)).toBe(4n);
    expect(readGlobal(obj, bytes, "flagged")[0]).toBe(0);
    expect(out(16)).toBe(0n);
    // helpers
    expect(out(17)).toBe(1n);
    expect(out(18)).toBe(1n);
    expect(out(19)).toBe(1n);
    expect(out(20)).toBe(1n);
    expect(out(21)).toBe(16n);
    // arrays: Slot.Udp = 2, Slot.Last = 10
    expect(perCpuSumU64(obj, "pcArr", u32le(2))).toBe(2n);
    expect(perCpuSumU64(obj, "pcArr", u32le(10))).toBe(2n * len);
    expect(dv(lookup(obj, "arrN", u32le(2))!).getUint32(0, true)).toBe(4);
    const a = dv(lookup(obj, "arr", u32le(2))!);
    expect(a.getBigUint64(0, true)).toBe(2n);
    expect(a.getBigUint64(8, true)).toBe(2n * len);
    // hash with a struct key and value: inserted, then updated through the view
    const key = new Uint8Array(16);
    const k = dv(key);
    k.setUint32(0, dv(ipv4("198.18.0.1")).getUint32(0), true);
    k.setUint32(4, dv(ipv4("198.19.0.1")).getUint32(0), true);
    k.setUint16(8, 1111, true);
    k.setUint16(10, 53, true);
    key[12] = 17;
    const f = lookup(obj, "flows", key);
    expect(f).not.toBeNull();
    const fv = dv(f!);
    expect(fv.getBigUint64(0, true)).toBe(2n);
    expect(fv.getBigUint64(8, true)).toBe(2n * len);
    expect(fv.getUint32(16, true)).toBe(53);
    expect(f![20]).toBe(1);
    // increment with and without `by` inserts on a miss
    expect(lookupU64(obj, "byPort", u16le(53))).toBe(2n);
    expect(lookupU64(obj, "byPort", u16le(1111))).toBe(20n);
    expect(perCpuSumU64(obj, "pcHash", u32le(17))).toBe(2n * len);
    const lruPc = obj.object.map("lruPc");
    const pc = mapLookup(lruPc.fd, u32le(17), 8 * possibleCpus())!;
    let n = 0;
    for (let c = 0; c < possibleCpus(); c++) n += dv(pc).getUint32(c * 8, true);
    expect(n).toBe(2);
    const l = lookup(obj, "lru", ipv4ToLe("198.18.0.1"));
    expect(dv(l!).getBigUint64(0, true)).toBe(2n);
    expect(l![20]).toBe(1);
  });

  it("sees userspace updates of hash and LPM maps; LPM keys are big-endian after prefixlen", () => {
    mapUpdate(obj.object.mapFd("flags"), u32le(1), Uint8Array.of(9));
    const pfx = new Uint8Array(8);
    pfx.set(u32le(24), 0);
    pfx.set(ipv4("198.18.0.0"), 4);
    mapUpdate(obj.object.mapFd("prefixes"), pfx, u32le(77));
    expect(run(obj, "maps", udp(1, 2)).retval).toBe(2);
    expect(out(4)).toBe(9n);
    expect(out(5)).toBe(77n);
    expect(run(obj, "maps", udp(1, 7)).retval).toBe(1);
  });

  it("takes parameters set before load", () => {
    const o = loadXdpObject(bytes, {
      beforeLoad: (lo) =>
        setParams(lo, bytes, {
          p8: Uint8Array.of(200),
          p16: u16le(5353),
          p32: u32le(0xfffffffe),
          p64: le(1n << 40n, 8),
          pi8: Uint8Array.of(0x80),
          pi16: u16le(0x8000),
          pi32: u32le(0x80000000),
          pi64: le(BigInt.asUintN(64, -(1n << 40n)), 8),
          pb: Uint8Array.of(0),
        }),
    });
    try {
      run(o, "maps", udp(1, 2));
      const v = (i: number) => lookupU64(o, "out", u32le(i))!;
      expect([v(6), v(7), v(8), v(9)]).toEqual([200n, 5353n, 0xfffffffen, 1n << 40n]);
      expect([10, 11, 12, 13].map((i) => BigInt.asIntN(64, v(i)))).toEqual([
        -128n,
        -32768n,
        -(1n << 31n),
        -(1n << 40n),
      ]);
      expect(v(14)).toBe(0n);
    } finally {
      o.close();
    }
  });

  it("redirects: empty DevMap/CpuMap/XskMap slots give the fallback; redirect(ifindex)", () => {
    expect(run(obj, "redir", udp(1, 1)).retval).toBe(1);
    expect(run(obj, "redir", udp(1, 2)).retval).toBe(2);
    expect(run(obj, "redir", udp(1, 3)).retval).toBe(3);
    expect(run(obj, "redir", udp(1, 4)).retval).toBe(4);
    expect(run(obj, "redir", udp(1, 5)).retval).toBe(2);
  });

  it("fibLookup fills its params from the kernel's routing table", () => {
    const p = packet({
      l3: { kind: "ipv4", src: "127.0.0.1", dst: "127.0.0.1" },
      l4: { kind: "udp", sport: 1, dport: 2 },
    });
    expect(run(obj, "fib", p).retval).toBe(2);
    // lo forwards only when its sysctl says so: FWD_DISABLED (5), else NOT_FWDED (4, local).
    const fwd = readFileSync("/proc/sys/net/ipv4/conf/lo/forwarding", "utf8").trim() === "1";
    expect(out(22)).toBe(fwd ? 4n : 5n);
    expect(out(23)).toBe(1n); // test runs arrive on lo
  });
});

function ipv4ToLe(s: string): Uint8Array {
  return u32le(dv(ipv4(s)).getUint32(0));
}
