// The Wasm host's route table (runtime/wasm/fib.ts) without a kernel: what a table file
// may hold (one-line refusals naming the entry), the refusal of fibLookup without a
// table, and `xdpc test --routes` / testFilter({ routes }) running a FIB filter on the
// Wasm engine. The answers themselves are checked against the kernel's in
// test/router/fib-wasm.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FibTable, ipv6, RouteTableError } from "../../runtime/wasm/fib.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import { repo } from "../support/unprivileged.ts";
import { testFilter } from "../../runtime/testing/index.ts";

const table = {
  interfaces: [
    { ifindex: 1, ifname: "lo", address: "00:00:00:00:00:00", mtu: 65536 },
    { ifindex: 2, ifname: "in0", address: "02:00:00:00:01:01" },
    { ifindex: 3, ifname: "out0", address: "02:00:00:00:02:01", mtu: 1400 },
  ],
  routes: [
    { dst: "198.18.1.0/24", dev: "in0" },
    { dst: "198.18.2.0/24", dev: "out0" },
    { dst: "198.19.0.0/16", gateway: "198.18.2.2", dev: 3 },
    { dst: "198.19.9.0/24", type: "blackhole" },
    { dst: "198.18.1.1", dev: "in0", type: "local", table: "local" },
  ],
  neighbours: [{ dst: "198.18.2.2", dev: "out0", lladdr: "02:00:00:00:02:02" }],
};

describe("route tables", () => {
  it("refuses what it does not model, naming the entry", () => {
    expect(
      () =>
        new FibTable(
          { ...table, routes: [{ dst: "10.0.0.0/8", dev: 2, table: "vrf1" }] },
          "r.json",
        ),
    ).toThrow("r.json: routes[0].table: 'vrf1' — a table is main, local, default or a number");
    expect(
      () => new FibTable({ ...table, routes: [{ dst: "10.0.0.0/8", nexthops: [] }] }, "r.json"),
    ).toThrow("r.json: routes[0]: 'nexthops' routes are not modelled by the Wasm host");
    expect(
      () => new FibTable({ ...table, routes: [{ dst: "10.0.0.0/33", dev: 2 }] }, "r.json"),
    ).toThrow("r.json: routes[0].dst: bad prefix length");
    expect(
      () => new FibTable({ ...table, routes: [{ dst: "10.0.0.0/8", dev: "eth9" }] }, "r.json"),
    ).toThrow('r.json: routes[0].dev: no interface "eth9" in interfaces');
    expect(
      () =>
        new FibTable(
          { ...table, neighbours: [{ dst: "198.18.2.3", dev: 3, lladdr: "zz" }] },
          "r.json",
        ),
    ).toThrow("r.json: neighbours[0].lladdr: not a MAC address (aa:bb:cc:dd:ee:ff)");
    expect(() => new FibTable({ routes: [] }, "r.json")).toThrow(
      "r.json: interfaces must be a list",
    );
  });

  it("looks up as documented: gateway, MTU, local, blackhole, no route", () => {
    const t = new FibTable(table);
    const ask = (dst: string, totLen = 0, ifindex = 2) => {
      const p = new DataView(new ArrayBuffer(64));
      p.setUint8(0, 2);
      p.setUint16(6, totLen, true);
      p.setUint32(8, ifindex, true);
      dst.split(".").forEach((b, i) => p.setUint8(32 + i, Number(b)));
      const rc = t.lookup(p, 64, 0);
      const mac = (o: number) =>
        [...new Uint8Array(p.buffer, o, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":");
      return {
        rc,
        ifindex: p.getUint32(8, true),
        mtu: p.getUint16(6, true),
        dst: [...new Uint8Array(p.buffer, 32, 4)].join("."),
        smac: mac(52),
        dmac: mac(58),
      };
    };
    expect(ask("198.19.4.4", 100)).toEqual({
      rc: 0,
      ifindex: 3,
      mtu: 1400,
      dst: "198.18.2.2",
      smac: "02:00:00:00:02:01",
      dmac: "02:00:00:00:02:02",
    });
    expect(ask("198.19.4.4", 1401)).toMatchObject({ rc: 8, mtu: 1400, ifindex: 2 });
    expect(ask("198.18.2.9").rc).toBe(7); // connected, no neighbour
    expect(ask("198.18.1.1").rc).toBe(4); // local
    expect(ask("198.19.9.1").rc).toBe(1); // blackhole
    expect(ask("203.0.113.1").rc).toBe(4); // no route
    expect(ask("198.19.4.4", 0, 9).rc).toBe(-19); // no such ingress device
  });
});

describe("IPv6 and the flags where the router lab cannot reach (the kernel's rules, ported)", () => {
  const v6table = {
    interfaces: [
      {
        ifindex: 1,
        ifname: "lo",
        address: "00:00:00:00:00:00",
        mtu: 65536,
        addr_info: [{ family: "inet6", local: "::1", prefixlen: 128, scope: "host" }],
      },
      {
        ifindex: 2,
        ifname: "a",
        address: "02:00:00:00:0a:01",
        mtu: 1500,
        mtu6: 1000,
        addr_info: [
          { local: "2001:2:0:1::1", prefixlen: 64 },
          { local: "2001:2:0:1::9", prefixlen: 64, deprecated: true },
          { local: "fe80::a", prefixlen: 64, scope: "link" },
        ],
      },
      {
        ifindex: 3,
        ifname: "b",
        address: "02:00:00:00:0b:01",
        addr_info: [
          { local: "2001:2:0:2::1", prefixlen: 64, tentative: true },
          { local: "2001:2:0:ff::1", prefixlen: 48 },
        ],
      },
      { ifindex: 4, ifname: "c", address: "02:00:00:00:0c:01", forwarding6: false },
    ],
    routes: [
      // two devices hold one prefix at one metric (as the kernel's own prefix routes can)
      { dst: "2001:2:0:5::/64", dev: "a", metric: 256 },
      { dst: "2001:2:0:5::/64", dev: "b", metric: 256 },
      { dst: "2001:2:0:6::/64", dev: "a", metric: 256 },
      { dst: "2001:2:0:7::/64", dev: "b", metric: 1024 },
      { dst: "2001:2:0:8::/64", dev: "b", metric: 1024 },
    ],
    neighbours: [
      { dst: "2001:2:0:5::5", dev: "a", lladdr: "02:00:00:00:0a:05" },
      { dst: "2001:2:0:5::5", dev: "b", lladdr: "02:00:00:00:0b:05" },
      { dst: "2001:2:0:6::6", dev: "a", lladdr: "02:00:00:00:0a:06", state: ["INCOMPLETE"] },
    ],
  };
  const t = new FibTable(v6table);
  const hex6 = (p: DataView, o: number) =>
    [...new Uint8Array(p.buffer, o, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const ask = (dst: string, o: { ifindex?: number; flags?: number; totLen?: number } = {}) => {
    const p = new DataView(new ArrayBuffer(64));
    p.setUint8(0, 10);
    p.setUint16(6, o.totLen ?? 0, true);
    p.setUint32(8, o.ifindex ?? 2, true);
    let v = ipv6(dst, "dst");
    for (let i = 47; i >= 32; i--, v >>= 8n) p.setUint8(i, Number(v & 0xffn));
    const rc = t.lookup(p, 64, o.flags ?? 0);
    return { rc, ifindex: p.getUint32(8, true), mtu: p.getUint16(6, true), src: hex6(p, 16), p };
  };
  const bits = (a: string) => ipv6(a, "a").toString(16).padStart(32, "0");

  it("reads IPv6 text as RFC 4291 writes it", () => {
    expect(ipv6("::", "x")).toBe(0n);
    expect(ipv6("::1", "x")).toBe(1n);
    expect(ipv6("2001:2::1", "x")).toBe((0x20010002n << 96n) | 1n);
    expect(ipv6("::ffff:198.18.0.1", "x")).toBe((0xffffn << 32n) | 0xc6120001n);
    expect(ipv6("1:2:3:4:5:6:7:8", "x")).toBe(0x00010002000300040005000600070008n);
    for (const bad of ["1::2::3", "1:2:3:4:5:6:7", "12345::", ":1", "1:2:3:4:5:6:7:8:9", "::g"])
      expect(() => ipv6(bad, "r.json: routes[0].dst"), bad).toThrow(
        "r.json: routes[0].dst: not an IPv6 address",
      );
  });

  it("prefers the lookup's device among a prefix's lowest-metric routes", () => {
    expect(ask("2001:2:0:5::5", { ifindex: 2 })).toMatchObject({ rc: 0, ifindex: 2 });
    expect(ask("2001:2:0:5::5", { ifindex: 3 })).toMatchObject({ rc: 0, ifindex: 3 });
    // from a third device: the first of them
    expect(ask("2001:2:0:5::5", { ifindex: 1 })).toMatchObject({ rc: 0, ifindex: 2 });
  });

  it("checks the IPv6 MTU (net.ipv6.conf.DEV.mtu, never below 1280) and the neighbour state", () => {
    expect(ask("2001:2:0:6::6", { totLen: 1281 })).toMatchObject({ rc: 8, mtu: 1280 });
    expect(ask("2001:2:0:6::6", { totLen: 1280 })).toMatchObject({ rc: 7, ifindex: 2 });
    expect(ask("2001:2:0:6::6", { ifindex: 4 }).rc).toBe(5); // forwarding6 off
  });

  it("picks a source as ipv6_dev_get_saddr: not tentative, not deprecated, the egress device, the longest match", () => {
    const SRC = 16;
    const SKIP = 4;
    // out of b: its tentative address is no candidate; b's other address is
    expect(ask("2001:2:0:7::7", { flags: SRC | SKIP }).src).toBe(bits("2001:2:0:ff::1"));
    // out of a: a's preferred address, not the deprecated one sharing more bits
    expect(ask("2001:2:0:6::9", { flags: SRC | SKIP }).src).toBe(bits("2001:2:0:1::1"));
    // the destination's own address wins over every other rule
    const own = new FibTable({
      ...v6table,
      routes: [{ dst: "2001:2:0:ff::/64", dev: "a", metric: 1 }],
    });
    const p = new DataView(new ArrayBuffer(64));
    p.setUint8(0, 10);
    p.setUint32(8, 2, true);
    let v = ipv6("2001:2:0:ff::1", "d");
    for (let i = 47; i >= 32; i--, v >>= 8n) p.setUint8(i, Number(v & 0xffn));
    expect(own.lookup(p, 64, SRC | SKIP)).toBe(0);
    expect(hex6(p, 16)).toBe(bits("2001:2:0:ff::1"));
  });

  it("refuses IPv6 routes it does not model", () => {
    expect(
      () =>
        new FibTable(
          { ...v6table, routes: [{ dst: "2001:2::/64", from: "2001:2:1::/64", dev: "a" }] },
          "r.json",
        ),
    ).toThrow("r.json: routes[0]: 'from' routes are not modelled by the Wasm host");
    expect(
      () => new FibTable({ ...v6table, routes: [{ dst: "2001:2::/129", dev: "a" }] }, "r.json"),
    ).toThrow("r.json: routes[0].dst: bad prefix length");
  });
});

describe("xdpc test --routes and testFilter({ routes }) on the wasm engine", () => {
  let dir: string;
  const f = (n: string) => join(dir, n);
  // A FIB forwarder without a device map (the engines hold no DevMap contents).
  const fwdTs = `
import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, zeroed, fibLookup, redirect, FibLookupParams,
  AF_INET, BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LKUP_RET_FRAG_NEEDED } from "xdpc";
export function fwd(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  const eth = ctx.eth();
  if (ip === null || eth === null || ip.ttl <= 1) return XDP_PASS;
  const p = zeroed<FibLookupParams>();
  p.family = AF_INET;
  p.ifindex = ctx.ifindex;
  p.totLen = ip.totalLength;
  p.ipv4Src = ip.src;
  p.ipv4Dst = ip.dst;
  const rc = fibLookup(ctx, p);
  if (rc === BPF_FIB_LKUP_RET_FRAG_NEEDED) return XDP_DROP;
  if (rc !== BPF_FIB_LKUP_RET_SUCCESS) return XDP_PASS;
  ip.ttl = ip.ttl - 1;
  eth.dst = p.dmac;
  eth.src = p.smac;
  return redirect(p.ifindex);
}`;
  let fwd = "";
  const eth = { srcMac: "02:00:00:00:01:02", dstMac: "02:00:00:00:01:01", src: "198.18.1.2" };
  const frames = [
    buildFrame({ ...eth, dst: "198.19.4.4", ttl: 64, l4: { proto: "udp", sport: 1, dport: 2 } }),
    buildFrame({ ...eth, dst: "203.0.113.1", ttl: 64, l4: { proto: "udp", sport: 1, dport: 2 } }),
  ];
  const xdpc = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(repo, "bin/xdpc.js"), ...args], {
      encoding: "utf8",
      cwd: repo,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "xdpc-fib-"));
    writeFileSync(f("routes.json"), JSON.stringify(table));
    writeFileSync(f("bad.json"), JSON.stringify({ ...table, routes: [{ dst: "x" }] }));
    writeFileSync(f("in.pcap"), writePcap(frames.map((data) => ({ data }))));
    fwd = f("fwd.ts");
    writeFileSync(fwd, fwdTs);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("without a table: the refusal says how to give one", () => {
    const r = xdpc("test", fwd, "--pcap", f("in.pcap"), "--engine", "wasm");
    expect(r.err).toBe(
      `xdpc: error: ${fwd}: the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it (--engine kernel; or give the wasm engine a route table: --routes FILE.json)\n`,
    );
    expect(r.code).toBe(1);
  });

  it("a bad table is one line naming the entry", () => {
    const r = xdpc(
      "test",
      fwd,
      "--pcap",
      f("in.pcap"),
      "--engine",
      "wasm",
      "--routes",
      f("bad.json"),
    );
    expect(r.err).toBe(`xdpc: error: ${f("bad.json")}: routes[0].dst: not an IPv4 address\n`);
    expect(r.code).not.toBe(0);
  });

  it("with a table: the router forwards what the table routes", async () => {
    const r = xdpc(
      "test",
      fwd,
      "--pcap",
      f("in.pcap"),
      "--engine",
      "wasm",
      "--routes",
      f("routes.json"),
      "--ifindex",
      "2",
      "--verbose",
    );
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^#1 .* XDP_REDIRECT +changed \d+ bytes\n#2 .* XDP_PASS\n/);
    expect(r.code).toBe(0);
    const run = await testFilter(fwd, {
      engine: "wasm",
      routes: table,
      ifindex: 2,
    });
    const [a, b] = run.runAll(frames);
    expect(a!.verdict).toBe("XDP_REDIRECT");
    expect([...a!.data.subarray(0, 12)]).toEqual([2, 0, 0, 0, 2, 2, 2, 0, 0, 0, 2, 1]);
    expect(a!.data[22]).toBe(63); // TTL (the checksum left stale: not this test's point)
    expect(b!.verdict).toBe("XDP_PASS");
    run.close();
  });
});
