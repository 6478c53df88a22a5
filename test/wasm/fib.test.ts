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
import { FibTable, RouteTableError } from "../../runtime/wasm/fib.ts";
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
        new FibTable({ ...table, routes: [{ dst: "10.0.0.0/8", dev: 2, table: "100" }] }, "r.json"),
    ).toThrow(
      "r.json: routes[0].table: '100' — only main, local and default are looked up without ip rules, which the host does not model",
    );
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
