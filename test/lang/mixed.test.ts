// Signed arithmetic of every width, globals of every type, helpers and enums, pinned maps,
// IPv6 LPM keys, nested structs, bool values, in the kernel.
import { afterAll, beforeAll, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { build as packet, ipv6 } from "../../runtime/packets/build.ts";
import { mapUpdate } from "../../native/object.ts";
import { RingConsumer } from "../../runtime/observe/events.ts";
import { build, lookup, lookupI64, lookupU64, readGlobal, run, u32le } from "./harness.ts";

describeKernel("mixed fixture", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  let pinRoot: string;
  beforeAll(() => {
    bytes = build("mixed");
    pinRoot = mkdtempSync("/sys/fs/bpf/xdpc-lang-");
    obj = loadXdpObject(bytes, { pinRoot });
  });
  afterAll(() => {
    obj?.close();
    if (pinRoot) rmSync(pinRoot, { recursive: true, force: true });
  });
  const out = (i: number) => lookupU64(obj, "out", u32le(i));
  const sout = (i: number) => lookupI64(obj, "sout", u32le(i));

  it("pins a map asked to be pinned, under the private root", () => {
    expect(existsSync(`${pinRoot}/lines`)).toBe(true);
    expect(existsSync(`${pinRoot}/out`)).toBe(false);
  });

  it("signed arithmetic at 8, 16, 32 and 64 bits", () => {
    const p = new Uint8Array(64);
    p.set([0xff, 0xff, 0xff, 0xf9, 0, 0, 0, 2]);
    expect(run(obj, "signed", p).retval).toBe(2);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(sout)).toEqual([
      -4n,
      -2n,
      -2n,
      -3n,
      -1n,
      -1n,
      7n,
      15n,
      49n,
      -14n,
      -9_000_000_007n,
      0n,
    ]);
  });

  it("globals of every type are read and written; helpers and enums", () => {
    const p = new Uint8Array(64);
    expect(run(obj, "globals", p).retval).toBe(2);
    expect(out(0)).toBe(4n);
    expect(sout(12)).toBe(-3n);
    expect(out(1)).toBe(3n);
    expect(sout(13)).toBe(-2n);
    expect(out(2)).toBe(1n);
    expect(out(3)).toBe(2n);
    expect(out(4)).toBe(16n);
    expect(out(5)).toBe(128n);
    expect(out(6)).toBe(0n);
    run(obj, "globals", p);
    expect(readGlobal(obj, bytes, "g8")[0]).toBe(14);
    const g64 = readGlobal(obj, bytes, "g64");
    expect(new DataView(g64.buffer, g64.byteOffset).getBigInt64(0, true)).toBe(-4n);
    expect(readGlobal(obj, bytes, "gb")[0]).toBe(0);
  });

  it("IPv6 LPM keys with an Ipv6Addr field, by copy and by literal", () => {
    const key = (addr: string) => {
      const k = new Uint8Array(20);
      k.set(u32le(128));
      k.set(ipv6(addr), 4);
      return k;
    };
    mapUpdate(obj.object.mapFd("v6"), key("2001:db8::2"), u32le(42));
    mapUpdate(obj.object.mapFd("v6"), key("2001:db8::1"), u32le(5));
    const p = packet({ l3: { kind: "ipv6", src: "2001:db8::1", dst: "2001:db8::2" } });
    expect(run(obj, "six", p).retval).toBe(1);
    expect(out(7)).toBe(42n);
    expect(out(8)).toBe(5n);
  });

  it("nested struct keys and values, FixedArray of u16, bool values, RingBuf output", () => {
    const ring = new RingConsumer(obj.object.mapFd("samples"), 4096);
    try {
      expect(run(obj, "structs", new Uint8Array(64)).retval).toBe(2);
      const rec = ring.next()!;
      expect(rec.length).toBe(16);
      const rv = new DataView(rec.buffer, rec.byteOffset);
      expect([rec[0], rec[1], rv.getBigInt64(8, true)]).toEqual([0x10, 1, -5n]);
      expect([...rec.subarray(2, 8)]).toEqual([0, 0, 0, 0, 0, 0]); // padding is zero
      expect(ring.next()).toBeNull();
    } finally {
      ring.close();
    }
    expect(sout(14)).toBe(-5n);
    expect(sout(15)).toBe(64n);
    expect(out(9)).toBe(7n);
    expect(out(10)).toBe(1n);
    expect(out(11)).toBe(1n);
    expect(out(12)).toBe(25n);
    const k = new Uint8Array(8);
    new DataView(k.buffer).setInt32(0, -1, true);
    new DataView(k.buffer).setInt32(4, 64, true);
    const v = lookup(obj, "lines", k)!;
    expect(v.length).toBe(24);
    const dv = new DataView(v.buffer, v.byteOffset);
    expect([0, 4, 8, 12].map((o) => dv.getInt32(o, true))).toEqual([-1, 64, 3, -5]);
    expect([16, 18, 20].map((o) => dv.getUint16(o, true))).toEqual([0, 0, 7]);
  });
});
