// The Wasm host's bpf_fib_lookup (runtime/wasm/fib.ts) against the kernel's, in a router
// lab (198.19.46.0/24) whose router namespace gets every kind of route the host models:
// connected and gateway routes, two metrics for one prefix, blackhole / unreachable /
// prohibit / throw, a default-table route, a gateway without a neighbour and one whose
// neighbour FAILED, a STALE neighbour, an interface with forwarding off and one with a
// small MTU. The same lookups (each frame carries one: family, flags, tot_len, tos,
// ifindex, addresses) run in an XDP and a tc program on both engines; the program
// writes the return code and every field the helper fills back into the frame, so the
// frames must come out byte for byte the same. The Wasm host is given the namespace's
// table as `ip -j` prints it (routeTableOf).
import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdirSync, rmSync } from "node:fs";
import { FIB_RET } from "../../runtime/wasm/fib.ts";
import { ip, ifindex, runInNetns } from "../../runtime/lab/netns.ts";
import { createRouterLab, routerLabSpec } from "../../runtime/lab/router.ts";
import { expectXdpcTestAgrees, kernelAndHost } from "./lookups.ts";
import { describeKernel } from "../support/kernel.ts";
import { writeFileSync } from "node:fs";

const lab = routerLabSpec("htcfib", 46);
const PIN = `/sys/fs/bpf/xdpc-tc-fib-${process.pid}`;

/** Frame bytes 14..: the query in, then the helper's answer out (see the program). */
const program = (hook: "xdp" | "tc") => `
import { ${hook === "xdp" ? "XdpContext, XdpAction, XDP_PASS" : "TcContext, TcAction, TC_ACT_OK"},
  fibLookup, zeroed, FibLookupParams, BPF_FIB_LOOKUP_DIRECT, BPF_FIB_LOOKUP_OUTPUT, u16, u32 } from "xdpc";
export function fib(ctx: ${hook === "xdp" ? "XdpContext): XdpAction" : "TcContext): TcAction"} {
  const ok = ${hook === "xdp" ? "XDP_PASS" : "TC_ACT_OK"};
  const family = ctx.load8(14);
  const sel = ctx.load8(15);
  const totLen = ctx.load16(16);
  const tos = ctx.load8(18);
  const proto = ctx.load8(19);
  const ifindex = ctx.load32(20);
  const dst = ctx.load32(24);
  const src = ctx.load32(28);
  if (family === null || sel === null || totLen === null || tos === null || proto === null ||
      ifindex === null || dst === null || src === null) return ok;
  const p = zeroed<FibLookupParams>();
  p.family = family;
  p.l4Protocol = proto;
  p.totLen = totLen;
  p.tos = tos;
  p.ifindex = ifindex;
  p.ipv4Dst = dst;
  p.ipv4Src = src;
  let r: u32 = 0;
  if (sel === 0) r = fibLookup(ctx, p);
  else if (sel === 1) r = fibLookup(ctx, p, BPF_FIB_LOOKUP_DIRECT);
  else if (sel === 2) r = fibLookup(ctx, p, BPF_FIB_LOOKUP_OUTPUT);
  else if (sel === 3) r = fibLookup(ctx, p, BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT);
  else if (sel === 4) r = fibLookup(ctx, p, 4);
  else r = fibLookup(ctx, p, 0x40);
  ctx.store32(32, r);
  ctx.store32(36, p.ifindex);
  ctx.store16(40, p.mtuResult);
  ctx.store8(42, p.family);
  ctx.store32(44, p.rtMetric);
  ctx.store32(48, p.ipv4Dst);
  ctx.store32(52, p.ipv4Src);
  ctx.store16(56, p.vlanProto);
  ctx.store16(58, p.vlanTci);
  ctx.store16(60, (p.smac >> 32) as u16);
  ctx.store32(62, p.smac as u32);
  ctx.store16(66, (p.dmac >> 32) as u16);
  ctx.store32(68, p.dmac as u32);
  return ok;
}`;

const v4 = (s: string) => s.split(".").map(Number);
interface Query {
  name: string;
  dst: string;
  src?: string;
  /** 0 none, 1 DIRECT, 2 OUTPUT, 3 both, 4 SKIP_NEIGH, 5 an unknown flag. */
  sel?: number;
  totLen?: number;
  tos?: number;
  /** The ingress (or, with OUTPUT, egress) interface; default the router's client side. */
  dev?: string | number;
  family?: number;
}

function frame(q: Query, dev: (n: string | number) => number): Uint8Array {
  const f = new Uint8Array(80);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5]);
  f[14] = q.family ?? 2;
  f[15] = q.sel ?? 0;
  new DataView(f.buffer).setUint16(16, q.totLen ?? 0);
  f[18] = q.tos ?? 0;
  f[19] = 17;
  new DataView(f.buffer).setUint32(20, dev(q.dev ?? lab.routerInIf));
  f.set(v4(q.dst), 24);
  f.set(v4(q.src ?? lab.clientAddr), 28);
  return f;
}

describeKernel("the Wasm host's fib_lookup answers as the kernel's in a router lab", () => {
  let removeLab: (() => void) | undefined;
  const X = "htcfibx0"; // a veth pair inside the router: forwarding off on x0, MTU 1280 on x1
  const Y = "htcfibx1";
  const queries: Query[] = [];
  beforeAll(() => {
    removeLab = createRouterLab(lab);
    const r = (...a: string[]) => ip("-n", lab.router, ...a);
    r("link", "add", X, "type", "veth", "peer", "name", Y);
    r("link", "set", Y, "mtu", "1280");
    for (const d of [X, Y]) r("link", "set", d, "up");
    r("addr", "add", "198.19.46.9/30", "dev", X);
    r("addr", "add", "198.19.46.17/28", "dev", Y);
    runInNetns(lab.router, () => writeFileSync(`/proc/sys/net/ipv4/conf/${X}/forwarding`, "0"));
    const n = 46 + 128;
    r("route", "add", `198.19.${n}.64/26`, "via", "198.19.46.18", "dev", Y);
    r("neigh", "replace", "198.19.46.18", "lladdr", "02:00:c6:13:2e:12", "dev", Y, "nud", "stale");
    r(
      "route",
      "add",
      `198.19.${n}.128/26`,
      "via",
      lab.serverAddr,
      "dev",
      lab.routerOutIf,
      "metric",
      "20",
    );
    r(
      "route",
      "add",
      `198.19.${n}.128/26`,
      "via",
      lab.clientAddr,
      "dev",
      lab.routerInIf,
      "metric",
      "10",
    );
    r("route", "add", "blackhole", `198.19.${n}.192/28`);
    r("route", "add", "unreachable", `198.19.${n}.208/28`);
    r("route", "add", "prohibit", `198.19.${n}.224/28`);
    r("route", "add", "throw", `198.19.${n}.240/28`);
    r(
      "route",
      "add",
      "table",
      "default",
      `198.19.${n}.240/29`,
      "via",
      lab.serverAddr,
      "dev",
      lab.routerOutIf,
    );
    r("route", "add", `198.19.${n + 1}.0/24`, "via", "198.19.46.10", "dev", X); // no neighbour
    r("route", "add", `198.19.${n + 2}.0/24`, "via", "198.19.46.18", "dev", Y, "metric", "7");
    r("route", "add", `198.19.${n + 3}.0/24`, "via", "198.19.46.19", "dev", Y);
    r("neigh", "replace", "198.19.46.19", "dev", Y, "nud", "failed");
    const b = `198.19.${n}`;
    const to = (name: string, dst: string, extra: Partial<Query> = {}) =>
      queries.push({ name, dst, ...extra });
    for (const sel of [0, 1, 2, 3, 4]) {
      const on = (q: Partial<Query>) => ({ sel, ...q });
      to(`server ${sel}`, lab.serverAddr, on({}));
      to(`beyond ${sel}`, `${b}.9`, on({}));
      to(`beyond out ${sel}`, `${b}.9`, on({ dev: lab.routerOutIf }));
      to(`stale ${sel}`, `${b}.70`, on({}));
      to(`metric ${sel}`, `${b}.130`, on({}));
      to(`metric, out via server side ${sel}`, `${b}.130`, on({ dev: lab.routerOutIf }));
      to(`blackhole ${sel}`, `${b}.193`, on({}));
      to(`unreachable ${sel}`, `${b}.209`, on({}));
      to(`prohibit ${sel}`, `${b}.225`, on({}));
      to(`throw → default table ${sel}`, `${b}.241`, on({}));
      to(`throw, nothing in default ${sel}`, `${b}.249`, on({}));
      to(`no neighbour ${sel}`, `198.19.${n + 1}.1`, on({}));
      to(`failed neighbour ${sel}`, `198.19.${n + 3}.1`, on({}));
      to(`small MTU, fits ${sel}`, `198.19.${n + 2}.1`, on({ totLen: 1280 }));
      to(`small MTU, too big ${sel}`, `198.19.${n + 2}.1`, on({ totLen: 1281 }));
      to(`big frame over the client side ${sel}`, lab.clientAddr, on({ totLen: 1500 }));
      to(`too big over the client side ${sel}`, lab.clientAddr, on({ totLen: 1501 }));
      to(`router's own address ${sel}`, lab.routerOutAddr, on({}));
      to(`subnet broadcast ${sel}`, "198.19.46.7", on({}));
      to(`unrouted ${sel}`, lab.unrouted, on({}));
      to(`loopback ${sel}`, "127.0.0.1", on({}));
      to(`forwarding off ${sel}`, lab.serverAddr, on({ dev: X }));
      to(`no such ifindex ${sel}`, lab.serverAddr, on({ dev: 999 }));
      to(`with tos ${sel}`, lab.serverAddr, on({ tos: 0x10 }));
      to(`from lo ${sel}`, lab.serverAddr, on({ dev: 1 }));
    }
    to("unknown flag", lab.serverAddr, { sel: 5 });
    to("family 7", lab.serverAddr, { family: 7 });
    mkdirSync(PIN, { recursive: true });
  });
  afterAll(() => {
    removeLab?.();
    rmSync(PIN, { recursive: true, force: true });
  });

  for (const hook of ["xdp", "tc"] as const)
    it(`${hook}: every lookup gives the kernel's code and fields`, () => {
      const dev = (d: string | number) => (typeof d === "number" ? d : ifindex(d, lab.router));
      const frames = queries.map((q) => frame(q, dev));
      const { kernel, wasm } = kernelAndHost(program(hook), hook, lab, frames, PIN);
      const codes: Record<number, number> = {};
      queries.forEach((q, i) => {
        const w = wasm[i]!;
        expect(Buffer.from(w).toString("hex"), q.name).toBe(
          Buffer.from(kernel[i]!).toString("hex"),
        );
        const code = new DataView(w.buffer, w.byteOffset).getInt32(32);
        codes[code] = (codes[code] ?? 0) + 1;
      });
      // The lab reaches every return code but UNSUPP_LWT, and the errnos (NO_SRC_ADDR is
      // IPv6's: test/router/fib6-wasm.test.ts).
      for (const c of Object.values(FIB_RET))
        if (c !== FIB_RET.UNSUPP_LWT && c !== FIB_RET.NO_SRC_ADDR)
          expect(codes[c], `code ${c}`).toBeGreaterThan(0);
      expect(codes[-22]).toBe(1); // the unknown flag
      expect(codes[-97]).toBe(1); // the family
      expect(codes[-19]).toBe(5); // no such ifindex
    });

  it("xdpc test --engine both --routes, inside the router namespace, agrees on every lookup", () => {
    const dev = (d: string | number) => (typeof d === "number" ? d : ifindex(d, lab.router));
    expectXdpcTestAgrees(
      program("tc"),
      lab,
      queries.map((q) => frame(q, dev)),
    );
  });
});
