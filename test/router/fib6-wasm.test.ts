// The Wasm host's bpf_fib_lookup for IPv6 and the lookup flags (SKIP_NEIGH, TBID, SRC,
// with DIRECT and OUTPUT) against the kernel's, in a router lab with IPv6 on
// (198.19.57.0/24, 2001:2:0:39NN::/64): every query is one frame carrying the whole
// input (family, flags, tbid, tot_len, tos, flowinfo, ifindex, source and destination),
// an XDP and a tc program call fibLookup with it and write the return code and every
// field the helper may fill back into the frame, in the kernel (BPF_PROG_TEST_RUN in
// the router namespace) and in the Wasm host given that namespace's table as `ip -j`
// prints it (routeTableOf): the frames must come out byte for byte the same; `xdpc test
// --engine both --routes` run inside the namespace agrees on them too. The IPv4
// queries repeat the flags on the IPv4 path (test/router/fib-wasm.test.ts covers its
// routes).
import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIB_RET, ipv6 } from "../../runtime/wasm/fib.ts";
import { ip, ifindex, runInNetns } from "../../runtime/lab/netns.ts";
import { createRouterLab, labNet6, routerLabSpec } from "../../runtime/lab/router.ts";
import { expectXdpcTestAgrees, kernelAndHost } from "./lookups.ts";
import { describeKernel } from "../support/kernel.ts";

const INDEX = 57;
const lab = routerLabSpec("hfib6", INDEX);
const PIN = `/sys/fs/bpf/xdpc-fib6-${process.pid}`;

/** Frame bytes 14..67: the query; 68..131: the helper's answer (see the program). */
const program = (hook: "xdp" | "tc") => `
import { ${hook === "xdp" ? "XdpContext, XdpAction, XDP_PASS" : "TcContext, TcAction, TC_ACT_OK"},
  fibLookup, zeroed, FibLookupParams, u16, u32 } from "xdpc";
export function fib(ctx: ${hook === "xdp" ? "XdpContext): XdpAction" : "TcContext): TcAction"} {
  const ok = ${hook === "xdp" ? "XDP_PASS" : "TC_ACT_OK"};
  const family = ctx.load8(14);
  const proto = ctx.load8(15);
  const totLen = ctx.load16(16);
  const tos = ctx.load8(18);
  const ifindex = ctx.load32(20);
  const flags = ctx.load32(24);
  const tbid = ctx.load32(28);
  const flowinfo = ctx.load32(32);
  if (family === null || proto === null || totLen === null || tos === null ||
      ifindex === null || flags === null || tbid === null || flowinfo === null) return ok;
  const p = zeroed<FibLookupParams>();
  p.family = family;
  p.l4Protocol = proto;
  p.totLen = totLen;
  p.ifindex = ifindex;
  if (family === 10) p.flowinfo = flowinfo;
  else p.tos = tos;
  p.tbid = tbid;
  for (let i = 0; i < 16; i++) {
    const s = ctx.load8(36 + i);
    const d = ctx.load8(52 + i);
    if (s === null || d === null) return ok;
    p.ipv6Src[i] = s;
    p.ipv6Dst[i] = d;
  }
  const r = fibLookup(ctx, p, flags);
  ctx.store32(68, r);
  ctx.store32(72, p.ifindex);
  ctx.store16(76, p.mtuResult);
  ctx.store8(78, p.family);
  ctx.store32(80, p.rtMetric);
  for (let i = 0; i < 16; i++) {
    ctx.store8(84 + i, p.ipv6Src[i]);
    ctx.store8(100 + i, p.ipv6Dst[i]);
  }
  ctx.store16(116, p.vlanProto);
  ctx.store16(118, p.vlanTci);
  ctx.store16(120, (p.smac >> 32) as u16);
  ctx.store32(122, p.smac as u32);
  ctx.store16(126, (p.dmac >> 32) as u16);
  ctx.store32(128, p.dmac as u32);
  return ok;
}`;

const F = { DIRECT: 1, OUTPUT: 2, SKIP_NEIGH: 4, TBID: 8, SRC: 16 };
const flagSets = [
  0,
  F.DIRECT,
  F.OUTPUT,
  F.DIRECT | F.OUTPUT,
  F.SKIP_NEIGH,
  F.SRC,
  F.SRC | F.SKIP_NEIGH,
  F.DIRECT | F.TBID,
  F.TBID,
];
interface Query {
  name: string;
  dst: string;
  src?: string;
  flags?: number;
  tbid?: number;
  totLen?: number;
  tos?: number;
  flowinfo?: number;
  /** The ingress (with OUTPUT, egress) interface; default the router's client side. */
  dev?: string | number;
}

function addrBytes(a: string): Uint8Array {
  const out = new Uint8Array(16);
  if (a.includes(":")) {
    let v = ipv6(a, "query");
    for (let i = 15; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  } else out.set(a.split(".").map(Number), 0);
  return out;
}

function frame(q: Query, dev: (n: string | number) => number): Uint8Array {
  const f = new Uint8Array(140);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xb5]);
  f[14] = q.dst.includes(":") ? 10 : 2;
  f[15] = 17;
  v.setUint16(16, q.totLen ?? 0);
  f[18] = q.tos ?? 0;
  v.setUint32(20, dev(q.dev ?? lab.routerInIf));
  v.setUint32(24, q.flags ?? 0);
  v.setUint32(28, q.tbid ?? 0);
  v.setUint32(32, q.flowinfo ?? 0);
  f.set(addrBytes(q.src ?? (f[14] === 10 ? lab.v6.clientAddr : lab.clientAddr)), 36);
  f.set(addrBytes(q.dst), 52);
  return f;
}

describeKernel("the Wasm host's IPv6 fib_lookup and lookup flags answer as the kernel's", () => {
  let removeLab: (() => void) | undefined;
  const X = "hfib6x0"; // a veth pair inside the router: IPv6 forwarding off on x0, MTU 1280 on x1
  const Y = "hfib6x1";
  // a veth pair without IPv6 addresses: z0 takes sources from itself only (none), z1 from
  // any device
  const Z = "hfib6z0";
  const W = "hfib6z1";
  const queries: Query[] = [];
  const net = (n: number) => labNet6(INDEX, n);
  const far = (n: number) => labNet6(INDEX + 128, n);
  beforeAll(() => {
    removeLab = createRouterLab(lab, { ipv6: true });
    const r = (...a: string[]) => ip("-n", lab.router, ...a);
    const r6 = (...a: string[]) => ip("-n", lab.router, "-6", ...a);
    r("link", "add", X, "type", "veth", "peer", "name", Y);
    r("link", "add", Z, "type", "veth", "peer", "name", W);
    r("link", "set", Y, "mtu", "1400");
    for (const d of [Z, W]) r("link", "set", d, "addrgenmode", "none");
    for (const d of [X, Y, Z, W]) r("link", "set", d, "up");
    r("addr", "add", `${net(3)}1/64`, "dev", X, "nodad");
    r("addr", "add", `${net(4)}1/64`, "dev", Y, "nodad");
    r("addr", "add", `198.19.${INDEX}.9/30`, "dev", X);
    r("addr", "add", `198.19.${INDEX}.17/28`, "dev", Y);
    runInNetns(lab.router, () => {
      writeFileSync(`/proc/sys/net/ipv6/conf/${X}/forwarding`, "0");
      writeFileSync(`/proc/sys/net/ipv6/conf/${Y}/mtu`, "1300");
      writeFileSync(`/proc/sys/net/ipv6/conf/${Z}/use_oif_addrs_only`, "1");
    });
    const lladdr = (n: number) => `02:00:c6:13:39:${n.toString(16).padStart(2, "0")}`;
    const nb = (addr: string, dev: string, n: number, nud = "permanent") =>
      r("neigh", "replace", addr, "lladdr", lladdr(n), "dev", dev, "nud", nud);
    // gateways: a global one on Y, a link-local one on the server side, a STALE one
    nb(`${net(4)}2`, Y, 0x42);
    nb("fe80::5", lab.routerOutIf, 0x55);
    nb(`${net(4)}3`, Y, 0x43, "stale");
    r6("neigh", "replace", `${net(4)}4`, "dev", Y, "nud", "failed");
    r6("route", "add", `${far(1)}/64`, "via", `${net(4)}2`, "dev", Y);
    r6("route", "add", `${far(2)}/64`, "via", "fe80::5", "dev", lab.routerOutIf);
    r6("route", "add", `${far(3)}/64`, "via", `${net(4)}3`, "dev", Y, "metric", "7");
    r6("route", "add", `${far(4)}/64`, "via", `${net(4)}4`, "dev", Y); // FAILED neighbour
    r6("route", "add", `${far(5)}/64`, "via", `${net(4)}9`, "dev", Y); // no neighbour
    // one prefix, two metrics: the lower wins whichever device asks
    r6(
      "route",
      "add",
      `${far(6)}/64`,
      "via",
      lab.v6.serverAddr,
      "dev",
      lab.routerOutIf,
      "metric",
      "20",
    );
    r6(
      "route",
      "add",
      `${far(6)}/64`,
      "via",
      lab.v6.clientAddr,
      "dev",
      lab.routerInIf,
      "metric",
      "10",
    );
    // a longer prefix inside a shorter one
    r6("route", "add", `${far(7)}/64`, "via", lab.v6.serverAddr, "dev", lab.routerOutIf);
    r6(
      "route",
      "add",
      `${labNet6(INDEX + 128, 7).slice(0, -2)}:8000::/65`,
      "via",
      `${net(4)}2`,
      "dev",
      Y,
    );
    r6("route", "add", "blackhole", `${far(8)}/64`);
    r6("route", "add", "unreachable", `${far(9)}/64`);
    r6("route", "add", "prohibit", `${far(10)}/64`);
    r6("route", "add", "throw", `${far(11)}/64`);
    // a preferred source on the route; a device without IPv6 addresses
    r6(
      "route",
      "add",
      `${far(12)}/64`,
      "via",
      lab.v6.serverAddr,
      "dev",
      lab.routerOutIf,
      "src",
      lab.v6.routerInAddr,
    );
    r6("route", "add", `${far(13)}/64`, "dev", Z);
    r6("neigh", "replace", `${far(13)}1`, "lladdr", lladdr(0x13), "dev", Z, "nud", "permanent");
    r6("route", "add", `${far(14)}/64`, "dev", W);
    r6("neigh", "replace", `${far(14)}1`, "lladdr", lladdr(0x14), "dev", W, "nud", "permanent");
    // numbered tables and the default table (read by DIRECT | TBID only)
    r6("route", "add", "table", "100", `${far(20)}/64`, "via", `${net(4)}2`, "dev", Y);
    r6("route", "add", "table", "100", "blackhole", `${far(21)}/64`);
    r6(
      "route",
      "add",
      "table",
      "default",
      `${far(22)}/64`,
      "via",
      lab.v6.serverAddr,
      "dev",
      lab.routerOutIf,
    );
    r(
      "route",
      "add",
      "table",
      "100",
      `198.19.${INDEX + 128}.0/24`,
      "via",
      "198.19.57.18",
      "dev",
      Y,
    );
    r("route", "add", "table", "100", "prohibit", `198.19.${INDEX + 129}.0/24`);
    r("route", "add", "table", "200", `198.19.${INDEX + 130}.0/24`, "dev", Z);
    r("route", "add", `198.19.${INDEX + 131}.0/24`, "dev", Z);
    r(
      "route",
      "add",
      `198.19.${INDEX + 132}.0/24`,
      "via",
      lab.serverAddr,
      "dev",
      lab.routerOutIf,
      "src",
      lab.routerInAddr,
    );
    r("neigh", "replace", "198.19.57.18", "lladdr", lladdr(0x18), "dev", Y, "nud", "permanent");
    r(
      "neigh",
      "replace",
      `198.19.${INDEX + 131}.1`,
      "lladdr",
      lladdr(0x31),
      "dev",
      Z,
      "nud",
      "permanent",
    );

    const to = (name: string, dst: string, extra: Partial<Query> = {}) =>
      queries.push({ name, dst, ...extra });
    const v6 = lab.v6;
    for (const flags of flagSets) {
      const on = (q: Partial<Query>) => ({ flags, tbid: 100, ...q });
      const s = ` [flags ${flags}]`;
      to(`server${s}`, v6.serverAddr, on({}));
      to(`server, from the server side${s}`, v6.serverAddr, on({ dev: lab.routerOutIf }));
      to(`client${s}`, v6.clientAddr, on({}));
      to(`beyond${s}`, `${labNet6(INDEX + 128, 0)}9`, on({}));
      to(`global gateway${s}`, `${far(1)}1`, on({}));
      to(`link-local gateway${s}`, `${far(2)}1`, on({}));
      to(`stale gateway${s}`, `${far(3)}1`, on({}));
      to(`failed gateway${s}`, `${far(4)}1`, on({}));
      to(`no neighbour${s}`, `${far(5)}1`, on({}));
      to(`metric${s}`, `${far(6)}1`, on({}));
      to(`metric, from the server side${s}`, `${far(6)}1`, on({ dev: lab.routerOutIf }));
      to(`shorter prefix${s}`, `${far(7)}1`, on({}));
      to(`longer prefix${s}`, `${labNet6(INDEX + 128, 7).slice(0, -2)}:8000::1`, on({}));
      to(`blackhole${s}`, `${far(8)}1`, on({}));
      to(`unreachable${s}`, `${far(9)}1`, on({}));
      to(`prohibit${s}`, `${far(10)}1`, on({}));
      to(`throw${s}`, `${far(11)}1`, on({}));
      to(`route's source${s}`, `${far(12)}1`, on({}));
      to(`device without addresses, its own only${s}`, `${far(13)}1`, on({}));
      to(`device without addresses${s}`, `${far(14)}1`, on({}));
      to(`table 100${s}`, `${far(20)}1`, on({}));
      to(`table 100 blackhole${s}`, `${far(21)}1`, on({}));
      to(`table 100, main's route${s}`, `${far(1)}1`, on({}));
      to(`default table${s}`, `${far(22)}1`, on({ tbid: 253 }));
      to(`table 0 is main${s}`, `${far(1)}1`, on({ tbid: 0 }));
      to(`table 255 (local)${s}`, v6.routerOutAddr, on({ tbid: 255 }));
      to(`table 255, a forwarded address${s}`, v6.serverAddr, on({ tbid: 255 }));
      to(`no such table${s}`, `${far(1)}1`, on({ tbid: 4242 }));
      to(`router's own address${s}`, v6.routerOutAddr, on({}));
      to(`subnet-router anycast${s}`, net(2), on({}));
      to(`unrouted${s}`, v6.unrouted, on({}));
      to(`link-local destination${s}`, "fe80::5", on({}));
      to(`link-local source${s}`, v6.serverAddr, on({ src: "fe80::1" }));
      to(`multicast${s}`, "ff0e::1", on({}));
      to(`loopback${s}`, "::1", on({}));
      to(`unspecified source${s}`, v6.serverAddr, on({ src: "::" }));
      to(`forwarding off${s}`, v6.serverAddr, on({ dev: X }));
      to(`no such ifindex${s}`, v6.serverAddr, on({ dev: 999 }));
      to(`from lo${s}`, v6.serverAddr, on({ dev: 1 }));
      to(`mtu6 1300, fits${s}`, `${far(1)}1`, on({ totLen: 1300 }));
      to(`mtu6 1300, too big${s}`, `${far(1)}1`, on({ totLen: 1301 }));
      to(`1500, fits${s}`, v6.serverAddr, on({ totLen: 1500 }));
      to(`1500, too big${s}`, v6.serverAddr, on({ totLen: 1501 }));
      to(`flowinfo${s}`, v6.serverAddr, on({ flowinfo: 0x0612345 }));
      // IPv4 with the same flags
      to(`v4 server${s}`, lab.serverAddr, on({}));
      to(`v4 beyond${s}`, `198.19.${INDEX + 128}.9`, on({}));
      to(`v4 beyond, out${s}`, `198.19.${INDEX + 128}.9`, on({ dev: lab.routerOutIf }));
      to(`v4 table 100 (main has the prefix too)${s}`, `198.19.${INDEX + 128}.9`, on({}));
      to(`v4 table 100 prohibit${s}`, `198.19.${INDEX + 129}.9`, on({}));
      to(`v4 table 200${s}`, `198.19.${INDEX + 130}.9`, on({ tbid: 200 }));
      to(`v4 table 200, main's route${s}`, lab.serverAddr, on({ tbid: 200 }));
      to(`v4 default table (absent)${s}`, lab.serverAddr, on({ tbid: 253 }));
      to(`v4 table 255${s}`, lab.serverAddr, on({ tbid: 255 }));
      to(`v4 no such table${s}`, lab.serverAddr, on({ tbid: 4242 }));
      to(`v4 device without addresses${s}`, `198.19.${INDEX + 131}.1`, on({}));
      to(`v4 route's source${s}`, `198.19.${INDEX + 132}.1`, on({}));
      to(`v4 from Y to its neighbour${s}`, `198.19.${INDEX}.18`, on({ dev: Y }));
      to(`v4 too big${s}`, lab.serverAddr, on({ totLen: 1501 }));
    }
    to("unknown flag", v6.serverAddr, { flags: 0x40 });
    to("MARK", v6.serverAddr, { flags: 0x20 });
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
      const wrong: string[] = [];
      queries.forEach((q, i) => {
        const w = wasm[i]!;
        const k = Buffer.from(kernel[i]!).toString("hex");
        const h = Buffer.from(w).toString("hex");
        if (k !== h) wrong.push(`${q.name}\n  kernel ${k.slice(136)}\n  wasm   ${h.slice(136)}`);
        const code = new DataView(w.buffer, w.byteOffset).getInt32(68);
        codes[code] = (codes[code] ?? 0) + 1;
      });
      expect(wrong.join("\n")).toBe("");
      for (const c of Object.values(FIB_RET))
        if (c !== FIB_RET.UNSUPP_LWT) expect(codes[c], `code ${c}`).toBeGreaterThan(0);
      expect(codes[-22]).toBe(1); // the unknown flag
      expect(codes[-19]).toBe(flagSets.length); // no such ifindex
    });

  it("xdpc test --engine both --routes, inside the router namespace, agrees on every lookup", () => {
    const dev = (d: string | number) => (typeof d === "number" ? d : ifindex(d, lab.router));
    expectXdpcTestAgrees(
      program("xdp"),
      lab,
      queries.map((q) => frame(q, dev)),
    );
  });
});
