// §4 statements and §3 struct semantics in the kernel: switch, loops, ?:, views and copies.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import type { XdpObject } from "../support/xdp.ts";
import { build as packet } from "../../runtime/packets/build.ts";
import { mapUpdate } from "../../native/object.ts";
import { loadFixture, lookup, lookupU64, run, u32le } from "./harness.ts";

// Rec: id u8 @0, inner { a u16 @4, b u32 @8 } @4, bytes u8[8] @12, words u32[4] @20; size 36.
const REC = 36;

describeKernel("§4 statements and struct values (fixture stmts)", () => {
  let obj: XdpObject;
  beforeAll(() => {
    obj = loadFixture("stmts");
  });
  afterAll(() => obj?.close());
  const out = (i: number) => lookupU64(obj, "out", u32le(i));
  const frame = (b0: number, b1: number) => {
    const p = packet({ l3: { kind: "ipv4", ttl: 17 }, l4: { kind: "udp" } });
    p[0] = b0;
    p[1] = b1;
    return p;
  };

  it("lays out the struct as C does", () => {
    expect(obj.object.map("recs").valueSize).toBe(REC);
  });

  it("switch: grouped empty cases, a block case, default anywhere", () => {
    for (const [b, k] of [
      [1, 10],
      [3, 10],
      [4, 20],
      [0xff, 40],
      [9, 30],
    ] as const) {
      run(obj, "stmts", frame(b, 0));
      expect(out(0)).toBe(BigInt(k));
    }
  });

  it("loops: continue, break on a run-time value, nested loops, counting down", () => {
    run(obj, "stmts", frame(0, 5)); // i = 0, 2, 4 run; 6 > 5 breaks
    expect(out(1)).toBe(3n);
    expect(out(2)).toBe(0n + 2n + 4n);
    expect(out(3)).toBe(4n);
    run(obj, "stmts", frame(0, 200)); // i = 0..8 even
    expect(out(1)).toBe(5n);
    expect(out(2)).toBe(0n + 2n + 4n + 4n + 4n);
    expect(out(3)).toBe(204n);
    expect(out(4)).toBe(108642321n);
    expect(out(5)).toBe(255n);
  });

  it("?:, && chains over nullable views, !view", () => {
    run(obj, "stmts", frame(0x10, 0x90));
    expect(out(6)).toBe(17n);
    expect(out(7)).toBe(0x80n);
    expect(out(8)).toBe(1n);
    expect(out(9)).toBe(2n);
    const arp = packet({ l3: { kind: "arp" } });
    arp[0] = 1;
    arp[1] = 2;
    run(obj, "stmts", arp);
    expect(out(6)).toBe(0n);
    expect(out(7)).toBe(1n);
    expect(out(8)).toBe(0n);
    expect(out(9)).toBe(1n);
  });

  it("struct locals are references; struct parameters too", () => {
    run(obj, "stmts", frame(0, 0));
    expect(out(10)).toBe(11n * 100n + 5n);
  });

  it("map views write in place; field assignment and update copy; FixedArray indexing", () => {
    mapUpdate(obj.object.mapFd("recs"), u32le(0), new Uint8Array(REC).fill(0x11));
    expect(run(obj, "stmts", frame(0x42, 20)).retval).toBe(2);
    const r = lookup(obj, "recs", u32le(0))!;
    const dv = new DataView(r.buffer, r.byteOffset);
    expect(r[0]).toBe(0x42);
    expect(dv.getUint16(4, true)).toBe(7);
    expect(dv.getUint32(8, true)).toBe(0x10000);
    expect([...r.subarray(12, 20)]).toEqual([0xaa, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 20]);
    expect([0, 1, 2, 3].map((w) => dv.getUint32(20 + 4 * w, true))).toEqual([0, 1, 4, 9]);
    expect(out(11)).toBe(0n);
    expect(out(12)).toBe(4n);
    expect(out(13)).toBe(7n); // the copy's write did not reach the map
    const c = lookup(obj, "byKey", u32le(1))!;
    const cv = new DataView(c.buffer, c.byteOffset);
    expect(c[0]).toBe(3);
    expect(cv.getUint16(4, true)).toBe(99);
    expect(cv.getUint32(8, true)).toBe(0x10000);
    expect([...c.subarray(12, 20)]).toEqual([...r.subarray(12, 20)]);
    expect([...c.subarray(20, 36)]).toEqual(new Array(16).fill(0));
    const l = lookup(obj, "byKey", u32le(2))!;
    const lv = new DataView(l.buffer, l.byteOffset);
    expect([l[0], lv.getUint16(4, true), lv.getUint32(8, true)]).toEqual([1, 2, 3]);
    expect([...l.subarray(12, 36)]).toEqual([...r.subarray(12, 36)]);
    // padding is zero in values xdpc creates
    expect([...l.subarray(1, 4), ...l.subarray(6, 8)]).toEqual([0, 0, 0, 0, 0]);
    // an in-range variable index writes
    run(obj, "stmts", frame(0x42, 3));
    expect(lookup(obj, "recs", u32le(0))![12 + 3]).toBe(0x55);
    expect(out(11)).toBe(0x55n);
  });

  it("returns the verdict chosen by ?:", () => {
    expect(run(obj, "stmts", frame(0xff, 0)).retval).toBe(1);
    expect(run(obj, "stmts", frame(0xfe, 0)).retval).toBe(3);
  });
});
