// The accessors' VLAN tag depth and ctx.skipIpv6Ext in the
// kernel and the Wasm host, against a model of the rules in docs/language.md §5.
import { afterEach, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { mapUpdate } from "../../native/object.ts";
import { runXdp, type XdpObject } from "../support/xdp.ts";
import { diagnose, fixture as fixtureSource, loadFixture, lookupU64, u32le } from "./harness.ts";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { kernelVsHostDiffs } from "../wasm/support.ts";

let open: XdpObject[] = [];
afterEach(() => {
  for (const o of open) o.close();
  open = [];
});
const fixture = () => {
  const o = loadFixture("parsing");
  open.push(o);
  return o;
};
const out = (o: XdpObject, i: number) => lookupU64(o, "out", u32le(i));

const MACS = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
const udp = [0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0];
const ipv4 = [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 19, 0, 1];
const ipv6 = (next: number, plen: number) => [
  0x60,
  0,
  0,
  0,
  plen >> 8,
  plen & 0xff,
  next,
  64,
  ...new Array(16).fill(0).map((_, i) => (i === 15 ? 1 : i === 0 ? 0x20 : 0)),
  ...new Array(16).fill(0).map((_, i) => (i === 15 ? 2 : i === 0 ? 0x20 : 0)),
];
/** Ethernet with n tags (the last `truncate` bytes cut), then the inner EtherType and payload. */
const tagged = (n: number, type: number, payload: number[]) => {
  const b = [...MACS];
  for (let i = 0; i < n; i++) b.push(...(i === 0 ? [0x88, 0xa8] : [0x81, 0x00]), 0, 100 + i);
  return Uint8Array.from([...b, type >> 8, type & 0xff, ...payload]);
};

describeKernel("VLAN tag depth and the IPv6 extension-header walk (fixture parsing)", () => {
  it("skips as many tags as the accessor's depth allows", () => {
    const o = fixture();
    for (let n = 0; n <= 9; n++) {
      runXdp(o.programFd("depth"), [tagged(n, 0x0800, [...ipv4, ...udp])]);
      const got = [0, 1, 2, 4, 5].map((i) => Number(out(o, i)));
      expect(got, `${n} tags`).toEqual([
        n <= 2 ? 1 : 0,
        n === 0 ? 1 : 0,
        n <= 4 ? 1 : 0,
        n <= 5 ? 53 : 0,
        n <= 2 ? 53 : 0,
      ]);
      runXdp(o.programFd("depth"), [tagged(n, 0x86dd, [...ipv6(17, 8), ...udp])]);
      expect(Number(out(o, 3)), `${n} tags, ipv6`).toBe(n <= 8 ? 1 : 0);
    }
    // A truncated tag within the depth: null (and not a shorter walk).
    const cut = tagged(4, 0x0800, []).subarray(0, 14 + 4 * 3 + 2);
    runXdp(o.programFd("depth"), [cut]);
    expect(out(o, 2)).toBe(0n);
  });

  // [name, chain after the fixed header, (ok, offset, next header)]
  const opt = (next: number, len8: number) => [next, len8, ...new Array(6 + 8 * len8).fill(0)];
  const cases: [string, number, number[], [number, number, number]][] = [
    ["no extension header", 17, udp, [1, 54, 17]],
    ["hop-by-hop", 0, [...opt(17, 0), ...udp], [1, 62, 17]],
    ["routing (24 bytes) then destination options", 43, [...opt(60, 2), ...opt(6, 0)], [1, 86, 6]],
    ["fragment", 44, [17, 0, 0, 0, 0, 0, 0, 7, ...udp], [1, 62, 17]],
    ["AH (len 1: 12 bytes)", 51, [58, 1, ...new Array(10).fill(0), 128, 0], [1, 66, 58]],
    ["three, the most allowed", 0, [...opt(43, 0), ...opt(60, 0), ...opt(17, 0)], [1, 78, 17]],
    [
      "four: one too many",
      0,
      [...opt(43, 0), ...opt(60, 0), ...opt(0, 0), ...opt(17, 0)],
      [0, 78, 0],
    ],
    ["truncated after one", 0, [...opt(60, 0), 17], [0, 62, 60]],
    ["mobility header", 135, [...opt(59, 1)], [1, 70, 59]],
  ];
  it("walks IPv6 extension headers up to the count given", () => {
    const o = fixture();
    for (const [name, first, rest, want] of cases) {
      const r = runXdp(o.programFd("ext"), [
        tagged(0, 0x86dd, [...ipv6(first, rest.length), ...rest]),
      ]);
      expect(r[0]!.name).toBe("XDP_PASS");
      expect(
        [6, 7, 8].map((i) => Number(out(o, i))),
        name,
      ).toEqual(want);
    }
  });

  it("builds FixedArray values from byte-array literals (keys, fields, assignments)", () => {
    const o = fixture();
    mapUpdate(o.mapFd("macs"), Uint8Array.of(2, 0, 0, 0, 0, 1), new Uint8Array(8));
    runXdp(o.programFd("literals"), [new Uint8Array(60)]);
    expect(out(o, 9)).toBe(1n);
    expect(out(o, 10)).toBe(0xabcdn);
    expect(out(o, 11)).toBe(9n);
    const m = (b: number[]) => lookupU64(o, "macs", Uint8Array.from(b));
    expect(m([2, 0, 0, 0, 0, 2])).toBe(1n);
    expect(m([1, 2, 3, 4, 5, 6])).toBe(2n);
    expect(m([9, 8, 7, 6, 5, 4])).toBe(0xffffn);
    expect(m([60, 60, 0, 0, 0, 0xee])).toBe(3n);
  });

  it("gives the same results in the Wasm host", () => {
    const src = fixtureSource("parsing");
    const built = compile(src, { file: "parsing.ts", emit: "object" });
    const wasm = compileToWasm(built.checked!, { names: ["depth", "ext", "literals"] });
    const host = new WasmHost(wasm.binary!);
    const o = fixture();
    const frames = [
      ...[0, 2, 3, 5, 8, 9].map((n) => tagged(n, 0x0800, [...ipv4, ...udp])),
      ...cases.map(([, first, rest]) => tagged(0, 0x86dd, [...ipv6(first, rest.length), ...rest])),
    ];
    for (const f of frames)
      for (const prog of ["depth", "ext", "literals"]) {
        const k = runXdp(o.programFd(prog), [f])[0]!;
        expect(host.run(prog, f).verdict).toBe(k.verdict);
        expect(kernelVsHostDiffs(o, host)).toEqual([]);
      }
  });
});

it("rejects array literals without a FixedArray context or of the wrong length", () => {
  const head = `import type { XdpContext, XdpAction, FixedArray, u8 } from "xdpc";
import { XDP_PASS } from "xdpc";
interface Mac { addr: FixedArray<u8, 6> }
export function f(ctx: XdpContext): XdpAction {
`;
  const tail = `  return XDP_PASS;\n}\n`;
  const one = (body: string) => diagnose(head + body + tail).map((d) => [d.code, d.text]);
  expect(one("  const m: Mac = { addr: [1, 2, 3] };\n")).toEqual([[2061, "[1, 2, 3]"]]);
  expect(one("  const a = [1, 2];\n")).toEqual([[2060, "[1, 2]"]]);
  expect(one("  const m: Mac = { addr: [1, 2, 3, 4, 5, 256] };\n")).toEqual([[2015, "256"]]);
  expect(one("  const m: Mac = { addr: [1, , 3, 4, 5, 6] };\n").map((d) => d[0])).toEqual([1010]);
});

it("rejects a VLAN depth or extension count that is not a small constant", () => {
  const head = `import type { XdpContext, XdpAction, Ipv6Chain } from "xdpc";
import { XDP_PASS } from "xdpc";
export function f(ctx: XdpContext): XdpAction {
  const n = ctx.len;
  const c: Ipv6Chain = { offset: 54, nextHeader: 0 };
`;
  const tail = `  return XDP_PASS;\n}\n`;
  const one = (body: string) => diagnose(head + body + tail).map((d) => [d.code, d.text]);
  expect(one("  ctx.ipv4(9);\n")).toEqual([[3041, "9"]]);
  expect(one("  ctx.udp(n);\n")).toEqual([[3041, "n"]]);
  expect(one("  ctx.eth(1);\n")).toEqual([[2027, "ctx.eth(1)"]]);
  expect(one("  ctx.skipIpv6Ext(c, 0);\n")).toEqual([[3042, "0"]]);
  expect(one("  ctx.skipIpv6Ext(c, 17);\n")).toEqual([[3042, "17"]]);
});
