// Filters compiled end to end by our toolchain, loaded through libbpf (the real
// verifier) and run with BPF_PROG_TEST_RUN: verdicts, output bytes and map contents.
import { SPEC_EXAMPLE } from "../support/filters.ts";
import { afterEach, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { testRun } from "../../native/bpf.ts";
import { mapLookup, mapUpdate, possibleCpus, type LoadedObject } from "../../native/object.ts";
import { build as packet, ipv4, inetChecksum } from "../../runtime/packets/build.ts";
import { load } from "./harness.ts";

let open: LoadedObject[] = [];
afterEach(() => {
  for (const o of open) o.close();
  open = [];
});
function prog(source: string, name?: string): { fd: number; obj: LoadedObject } {
  const { obj } = load(source);
  open.push(obj);
  return { fd: obj.programFd(name ?? obj.programNames()[0]!), obj };
}
const u32le = (v: number) =>
  Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
/** Sum of a per-CPU u64 slot (values are 8-byte aligned per CPU). */
function perCpuSum(obj: LoadedObject, map: string, key: Uint8Array, off = 0): bigint {
  const m = obj.map(map);
  const stride = Math.ceil(m.valueSize / 8) * 8;
  const v = mapLookup(m.fd, key, stride * possibleCpus());
  if (!v) return -1n;
  const dv = new DataView(v.buffer, v.byteOffset);
  let s = 0n;
  for (let c = 0; c < possibleCpus(); c++) s += dv.getBigUint64(c * stride + off, true);
  return s;
}

const udp = (
  dport: number,
  extra: Partial<{
    src: string;
    ttl: number;
    vlans: { vid: number; tpid?: number }[];
    frag: number;
  }> = {},
) =>
  packet({
    eth: { vlans: extra.vlans },
    l3: {
      kind: "ipv4",
      src: extra.src ?? "198.18.0.1",
      ttl: extra.ttl ?? 64,
      fragOffset: extra.frag,
    },
    l4: { kind: "udp", sport: 1234, dport },
    payload: new Uint8Array(8),
  });

describeKernel("end to end: compiled filters run in the kernel", () => {
  it("returns a constant verdict", () => {
    const { fd } = prog(`import { XdpContext, XdpAction, XDP_DROP } from "xdpc";
export function f(ctx: XdpContext): XdpAction { return XDP_DROP; }`);
    expect(testRun(fd, udp(53)).retval).toBe(1);
  });

  it("runs the LANGUAGE.md firewall: LPM lookup, per-CPU counters, UDP port match", () => {
    const { fd, obj } = prog(SPEC_EXAMPLE);
    // LpmTrie keys hold the fields after prefixlen in network order (docs/language.md §7).
    const key = new Uint8Array(8);
    key.set(u32le(32), 0);
    key.set(ipv4("198.18.0.7"), 4);
    mapUpdate(obj.map("blocked").fd, key, new Uint8Array(8));
    expect(testRun(fd, udp(53, { src: "198.18.0.7" })).retval).toBe(1);
    expect(testRun(fd, udp(53)).retval).toBe(2);
    expect(testRun(fd, udp(53, { vlans: [{ vid: 5 }, { vid: 6, tpid: 0x8100 }] })).retval).toBe(2);
    expect(testRun(fd, udp(54)).retval).toBe(2);
    expect(testRun(fd, udp(53, { frag: 3 })).retval).toBe(2);
    expect(perCpuSum(obj, "stats", u32le(0))).toBe(1n);
    expect(perCpuSum(obj, "stats", u32le(1))).toBe(2n);
  });

  it("writes header fields: TTL decrement with an incremental checksum update", () => {
    const { fd } = prog(
      `import { XdpContext, XdpAction, XDP_PASS, XDP_TX, u32 } from "xdpc";
export function ttl(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  if (ip.ttl <= 1) return XDP_PASS;
  ip.ttl = ip.ttl - 1;
  let sum: u32 = ip.checksum + 0x0100;
  sum = (sum & 0xffff) + (sum >> 16);
  ip.checksum = sum as u16;
  return XDP_TX;
}`.replace("u32 }", "u32, u16 }"),
    );
    const pkt = udp(9, { ttl: 64 });
    const r = testRun(fd, pkt);
    expect(r.retval).toBe(3);
    expect(r.data[22]).toBe(63);
    // The updated header still checksums to zero.
    expect(inetChecksum(r.data.subarray(14, 34))).toBe(0);
    expect(testRun(fd, udp(9, { ttl: 1 })).retval).toBe(2);
  });

  it("keys a hash map by a struct literal and counts with increment", () => {
    const { fd, obj } =
      prog(`import { XdpContext, XdpAction, XDP_PASS, HashMap, u16, u32, u64 } from "xdpc";
interface Flow { src: u32; dport: u16; proto: u16 }
const flows = new HashMap<Flow, u64>({ maxEntries: 64 });
let seen: u64 = 0;
export function count(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const u = ctx.udp();
  if (u === null) return XDP_PASS;
  flows.increment({ src: ip.src, dport: u.dstPort, proto: ip.protocol }, 2);
  seen += 1;
  return XDP_PASS;
}`);
    for (let k = 0; k < 3; k++) testRun(fd, udp(53));
    const key = new Uint8Array(8);
    key.set(u32le(new DataView(ipv4("198.18.0.1").buffer).getUint32(0)), 0);
    key[4] = 53;
    key[6] = 17;
    const v = mapLookup(obj.map("flows").fd, key, 8);
    expect(v && new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)).toBe(6n);
  });

  it("counts zero bytes in a bounded loop with a load-time parameter", () => {
    const { fd } =
      prog(`import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, param, u32 } from "xdpc";
const limit = param<u32>("limit", 4);
export function zeros(ctx: XdpContext): XdpAction {
  let n: u32 = 0;
  for (let i = 0; i < 16; i++) {
    const b = ctx.load8(i);
    if (b === null) break;
    if (b === 0) n++;
  }
  return n > limit ? XDP_DROP : XDP_PASS;
}`);
    const pkt = new Uint8Array(60).fill(1);
    expect(testRun(fd, pkt).retval).toBe(2);
    pkt.fill(0, 0, 5);
    expect(testRun(fd, pkt).retval).toBe(1);
  });

  it("keeps a long loop as a bounded loop (not unrolled) and sums bytes through a FixedArray copy", () => {
    const { fd, obj } =
      prog(`import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, ArrayMap, FixedArray, u8, u32 } from "xdpc";
interface Buf { bytes: FixedArray<u8, 40> }
const out = new ArrayMap<Buf>({ maxEntries: 1 });
export function sum(ctx: XdpContext): XdpAction {
  const b = out.lookup(0);
  if (b === null) return XDP_PASS;
  let total: u32 = 0;
  for (let i = 0; i < 40; i++) {
    const x = ctx.load8(i);
    if (x === null) break;
    b.bytes[i] = x;
    total += b.bytes[i];
  }
  return total === 40 ? XDP_DROP : XDP_PASS;
}`);
    const pkt = new Uint8Array(60).fill(1);
    expect(testRun(fd, pkt).retval).toBe(1);
    pkt[3] = 2;
    expect(testRun(fd, pkt).retval).toBe(2);
    const v = mapLookup(obj.map("out").fd, u32le(0), 40)!;
    expect([...v.slice(0, 5)]).toEqual([1, 1, 1, 2, 1]);
  });

  it("redirects through a DevMap with a fallback verdict and through redirect(ifindex)", () => {
    const { fd } =
      prog(`import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, DevMap, redirect } from "xdpc";
const devs = new DevMap({ maxEntries: 4 });
export function fwd(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return devs.redirect(1, XDP_DROP);
  if (ip.ttl === 7) return redirect(1);
  return devs.redirect(0, XDP_PASS);
}`);
    expect(testRun(fd, udp(1)).retval).toBe(2);
    expect(testRun(fd, udp(1, { ttl: 7 })).retval).toBe(4);
    const arp = packet({ l3: { kind: "arp" } });
    expect(testRun(fd, arp).retval).toBe(1);
  });

  it("strips the Ethernet header with adjustHead and parses again", () => {
    const { fd } = prog(`import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, XDP_TX } from "xdpc";
export function strip(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  if (eth.proto !== 0x0800) return XDP_PASS;
  if (!ctx.adjustHead(14)) return XDP_DROP;
  const v = ctx.load8(0);
  if (v === null) return XDP_DROP;
  return v === 0x45 && ctx.len === 36 ? XDP_TX : XDP_PASS;
}`);
    const pkt = udp(1); // 14 + 20 + 8 + 8 bytes
    const r = testRun(fd, pkt);
    expect(r.retval).toBe(3);
    expect([...r.data]).toEqual([...pkt.subarray(14)]);
  });

  it("follows the language's integer semantics (widths, signedness, division by zero, shifts, switch, ?:)", () => {
    const { fd, obj } =
      prog(`import { XdpContext, XdpAction, XDP_PASS, ArrayMap, u8, u16, u32, u64, i8, i32, i64 } from "xdpc";
const res = new ArrayMap<u64>({ maxEntries: 16 });
function put(k: u32, v: u64): void { res.update(k, v); }
export function ints(ctx: XdpContext): XdpAction {
  const z = ctx.len - ctx.len;          // 0 at run time, unknown to the compiler
  const a: u8 = 250 + (z as u8);
  const b: u8 = a + 10;                 // wraps at 8 bits: 4
  put(0, b);
  const c: u32 = 0xffffffff + z;
  put(1, c + 1);                        // wraps at 32 bits: 0
  const d: i32 = -7 + (z as i32);
  put(2, (d / 2) as u64);               // -3, sign-extended to 64 bits
  put(3, (d >> 1) as u64);              // arithmetic shift: -4
  put(4, 100 / z);                      // division by zero: 0
  put(5, 100 % z);                      // modulo by zero: the dividend
  const e: i8 = -1 + (z as i8);
  const f: i64 = e;                     // sign extension
  put(6, f as u64);
  put(7, (1 << (33 + z)) as u64);       // shift count masked to 32 bits: 2
  let s: u32 = 0;
  switch (ctx.len) {
    case 1:
    case 2: s = 12; break;
    case 50: s = 50; break;
    default: s = 99;
  }
  put(8, s);
  put(9, ctx.len > 40 ? 1 : 2);
  const g: u64 = 0x1_0000_0000 + (z as u64);
  put(10, g * 3);
  return XDP_PASS;
}`);
    expect(testRun(fd, udp(1)).retval).toBe(2);
    const get = (k: number) =>
      new DataView(mapLookup(obj.map("res").fd, u32le(k), 8)!.buffer).getBigUint64(0, true);
    const M = (v: bigint) => BigInt.asUintN(64, v);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(get)).toEqual([
      4n,
      0n,
      M(-3n),
      M(-4n),
      0n,
      100n,
      M(-1n),
      2n,
      50n,
      1n,
      0x3_0000_0000n,
    ]);
  });
});
