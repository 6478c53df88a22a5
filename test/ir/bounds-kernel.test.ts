// Range analysis and covered bounds checks (ranges.ts, bounds.ts) against the kernel:
// each filter is built with every pass and without those two, both are loaded through
// the verifier and run over frames at the edges — exactly long enough, one byte short,
// offsets at the 0xffff packet limit — and must agree on verdict and bytes, and with
// the verdicts the source says.
import { mkdirSync, rmSync } from "node:fs";
import { expect, it } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, runXdp, type XdpObject } from "../support/xdp.ts";

const HEAD = `import type { XdpContext, XdpAction, u16, u32 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX } from "xdpc";
`;

/** A run of constant-offset loads and one length test (the router/xdp_fwd shape). */
const CONST_RUN = `${HEAD}
export function prog(ctx: XdpContext): XdpAction {
  const a = ctx.load8(22);
  const b = ctx.load16(16);
  const c = ctx.load32(30);
  if (ctx.len < 34 || a === null || b === null || c === null) return XDP_DROP;
  ctx.store32(0, a + b + c);
  return XDP_TX;
}`;

/** Loads at off + c after a VLAN walk; the length test covers all (full) or part (partial). */
const varRun = (need: number) => `${HEAD}
export function prog(ctx: XdpContext): XdpAction {
  const et0 = ctx.load16(12);
  if (et0 === null) return XDP_ABORTED;
  let et: u32 = et0;
  let off: u32 = 14;
  for (let i = 0; i < 2; i++) {
    if (et !== 0x8100) break;
    const n = ctx.load16(off + 2);
    if (n === null) break;
    et = n;
    off += 4;
  }
  const a = ctx.load8(off);
  const b = ctx.load16(off + 2);
  const c = ctx.load32(off + 16);
  if (ctx.len < off + ${need} || a === null || b === null) return XDP_DROP;
  if (c === null) return XDP_PASS;
  ctx.store32(0, a + b + c + off);
  return XDP_TX;
}`;

/** Offsets read from the frame: unknown (0..0xffff) or masked small, near the limit. */
const EDGE = `${HEAD}
export function prog(ctx: XdpContext): XdpAction {
  const o = ctx.load16(14);
  if (o === null) return XDP_ABORTED;
  const m: u32 = o & 0x3f;
  const x = ctx.load8(o);
  const y = ctx.load16(o + 1);
  const z = ctx.load8(m + 20);
  const w = ctx.load16(m + 22);
  if (ctx.len < m + 24 || z === null || w === null) return XDP_DROP;
  if (x === null && y === null) return XDP_PASS;
  let s: u32 = z + w;
  if (x !== null) s += x;
  if (y !== null) s += y;
  ctx.store16(0, s as u16);
  return XDP_TX;
}`;

/** A loop too long to unroll over option bytes at a variable offset. */
const LOOP = `${HEAD}
export function prog(ctx: XdpContext): XdpAction {
  const h = ctx.load8(14);
  if (h === null) return XDP_ABORTED;
  const off: u32 = 15 + (h & 7);
  let sum: u32 = 0;
  for (let i: u32 = 0; i < 24; i++) {
    const b = ctx.load8(off + i);
    if (b === null) return XDP_DROP;
    sum += b;
  }
  ctx.store32(0, sum);
  return XDP_TX;
}`;

const WITHOUT: string[] = ["ranges", "bounds"];
let seq = 0;

function build(source: string, without?: string[]): Uint8Array {
  const out = compile(source, { file: "edge.ts", emit: "object", skipPasses: without });
  const err = out.diagnostics.find((d) => d.severity === "error");
  if (err || !out.object) throw new Error(`does not build: ${err?.message}`);
  return out.object;
}

function load(bytes: Uint8Array): { obj: XdpObject; done: () => void } {
  const pinRoot = `/sys/fs/bpf/xdpc-range-${process.pid}-${++seq}`;
  mkdirSync(pinRoot, { recursive: true });
  const obj = loadXdpObject(bytes, { pinRoot });
  return {
    obj,
    done: () => {
      obj.close();
      rmSync(pinRoot, { recursive: true, force: true });
    },
  };
}

/** A frame of `len` bytes: EtherType at 12 (after `tags` 802.1Q tags), byte i = i * 7 + 1 after. */
function frame(len: number, tags = 0, at14?: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + 1) & 0xff;
  const put16 = (o: number, v: number) => {
    if (o + 1 < len) [f[o], f[o + 1]] = [v >> 8, v & 0xff];
  };
  for (let t = 0; t < tags; t++) put16(12 + 4 * t, 0x8100);
  put16(12 + 4 * tags, 0x0800);
  if (at14 !== undefined) put16(14, at14);
  return f;
}

/** Both builds over the frames: same verdicts and bytes; the optimised verdicts. */
function agree(source: string, frames: Uint8Array[]): string[] {
  const opt = load(build(source));
  const ref = load(build(source, WITHOUT));
  try {
    const a = runXdp(opt.obj.programFd(), frames);
    const b = runXdp(ref.obj.programFd(), frames);
    a.forEach((r, i) => {
      expect(r.error, `frame ${i}`).toBeUndefined();
      expect(r.name, `frame ${i} (${frames[i]!.length} bytes)`).toBe(b[i]!.name);
      expect(Buffer.from(r.data).equals(Buffer.from(b[i]!.data)), `frame ${i} bytes`).toBe(true);
    });
    return a.map((r) => r.name);
  } finally {
    opt.done();
    ref.done();
  }
}

const lengths = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, k) => from + k);

describeKernel("covered bounds checks agree with the unoptimised build at the edges", () => {
  it("a constant run: 33 bytes drop, 34 bytes are enough", () => {
    const frames = lengths(14, 64).map((n) => frame(n));
    const v = agree(CONST_RUN, frames);
    expect(v[33 - 14]).toBe("XDP_DROP");
    expect(v[34 - 14]).toBe("XDP_TX");
    expect(v.slice(0, 34 - 14).every((x) => x === "XDP_DROP")).toBe(true);
  });

  it("loads at off + c after 0, 1 and 2 VLAN tags, the test covering all of them", () => {
    for (const tags of [0, 1, 2]) {
      const off = 14 + 4 * tags;
      const frames = lengths(14, off + 24).map((n) => frame(n, tags));
      const v = agree(varRun(20), frames);
      expect(v[off + 19 - 14], `${tags} tags, one byte short`).toBe("XDP_DROP");
      expect(v[off + 20 - 14], `${tags} tags, exactly long enough`).toBe("XDP_TX");
    }
  });

  it("the length test covering only part of the run keeps the rest checked", () => {
    for (const tags of [0, 1, 2]) {
      const off = 14 + 4 * tags;
      const frames = lengths(14, off + 24).map((n) => frame(n, tags));
      const v = agree(varRun(10), frames);
      expect(v[off + 9 - 14]).toBe("XDP_DROP");
      expect(v[off + 10 - 14]).toBe("XDP_PASS");
      expect(v[off + 19 - 14]).toBe("XDP_PASS");
      expect(v[off + 20 - 14]).toBe("XDP_TX");
    }
  });

  it("offsets from the frame at the 0xffff limit and masked ones near the end", () => {
    const frames: Uint8Array[] = [];
    for (const o of [0, 1, 62, 63, 0xfffd, 0xfffe, 0xffff, 0x1003f])
      for (const n of [16, 30, 40, 63, 64, 65, 86, 87, 88]) frames.push(frame(n, 0, o & 0xffff));
    const v = agree(EDGE, frames);
    // o = 0xffff: no byte there, (o & 0x3f) + 24 = 87 bytes needed.
    const at = (o: number, n: number) =>
      v[
        [0, 1, 62, 63, 0xfffd, 0xfffe, 0xffff, 0x1003f].indexOf(o) * 9 +
          [16, 30, 40, 63, 64, 65, 86, 87, 88].indexOf(n)
      ];
    expect(at(0xffff, 86)).toBe("XDP_DROP");
    expect(at(0xffff, 87)).toBe("XDP_PASS");
    expect(at(0, 30)).toBe("XDP_TX");
  });

  it("a loop over option bytes too long to unroll", () => {
    const frames: Uint8Array[] = [];
    for (const h of [0, 3, 7, 255])
      for (const n of lengths(15, 50)) frames.push(frame(n, 0, h << 8));
    const v = agree(LOOP, frames);
    // h = 0: bytes 15..38 needed, 39 bytes.
    expect(v[38 - 15]).toBe("XDP_DROP");
    expect(v[39 - 15]).toBe("XDP_TX");
  });
});
