// AF_XDP handlers compiled to WebAssembly, run by the JS host over crafted frames:
// exact verdicts, exact rewritten bytes, map effects, and the header rules (every
// accessor and checked load is bounds-checked against the frame length).
import { describe, expect, it } from "vitest";
import { missingHelpers, WasmHost, WasmHostError } from "../../runtime/wasm/instance.ts";
import {
  build,
  concat,
  hex,
  IPPROTO_UDP,
  ipv4ToU32,
  TCP_SYN,
  tcp4,
  udp4,
  udp6,
} from "../../runtime/packets/build.ts";
import { truncations } from "../support/crafted.ts";
import { wasmOf } from "./support.ts";

const XSK_DROP = 0;
const XSK_TX = 1;

const reflect = `
import { XskPacket, XskVerdict, XSK_DROP, XSK_TX } from "xdpc";

/** Sends UDP datagrams back to where they came from: ports swapped, TTL / hop limit spent. */
export function reflect(pkt: XskPacket): XskVerdict {
  const udp = pkt.udp();
  if (udp === null) return XSK_DROP;
  const port = udp.srcPort;
  udp.srcPort = udp.dstPort;
  udp.dstPort = port;
  const ip = pkt.ipv4();
  if (ip !== null) {
    ip.ttl = ip.ttl - 1;
    return XSK_TX;
  }
  const ip6 = pkt.ipv6();
  if (ip6 !== null) ip6.hopLimit = ip6.hopLimit - 1;
  return XSK_TX;
}
`;

describe("AF_XDP handlers in WebAssembly", () => {
  const out = wasmOf(reflect);
  const host = new WasmHost(out.binary);

  it("exports each handler with the frame ABI and records it in the metadata", () => {
    expect(out.meta!.functions).toEqual([{ name: "reflect", kind: "handler" }]);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(out.binary));
    expect(exports.map((e) => e.name)).toEqual(["reflect"]);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(out.binary));
    expect(imports.find((i) => i.kind === "memory")).toEqual({
      module: "env",
      name: "memory",
      kind: "memory",
    });
  });

  it("rewrites an IPv4 UDP datagram in place and returns XSK_TX", () => {
    const p = udp4({ sport: 40000, dport: 53 }, { ttl: 9 });
    const want = p.slice();
    want.set(p.subarray(36, 38), 34); // ports swapped
    want.set(p.subarray(34, 36), 36);
    want[22] = 8; // TTL
    const r = host.run("reflect", p);
    expect(r.verdict).toBe(XSK_TX);
    expect(hex(r.data)).toBe(hex(want));
  });

  it("rewrites an IPv6 datagram behind two VLAN tags", () => {
    const p = build({
      eth: { vlans: [{ tpid: 0x88a8, vid: 5 }, { vid: 7 }] },
      l3: { kind: "ipv6", hopLimit: 2 },
      l4: { kind: "udp", sport: 1, dport: 2 },
    });
    const l4 = 14 + 8 + 40;
    const want = p.slice();
    want.set(p.subarray(l4 + 2, l4 + 4), l4);
    want.set(p.subarray(l4, l4 + 2), l4 + 2);
    want[22 + 7] = 1;
    const r = host.run("reflect", p);
    expect(r.verdict).toBe(XSK_TX);
    expect(hex(r.data)).toBe(hex(want));
    expect(hex(udp6({ sport: 1, dport: 2 }))).not.toBe(hex(p)); // the tags are really there
  });

  it("drops what it does not parse and leaves the bytes alone", () => {
    for (const p of [tcp4({ flags: TCP_SYN }), new Uint8Array(60)]) {
      const r = host.run("reflect", p);
      expect(r.verdict).toBe(XSK_DROP);
      expect(hex(r.data)).toBe(hex(p));
    }
  });

  it("bounds-checks every header against the frame length (truncated frames)", () => {
    const p = udp4({ sport: 7, dport: 9 });
    const full = 14 + 20 + 8;
    for (const t of truncations(p)) {
      // The bytes past the frame are poison: reading them would still find UDP.
      const r = host.run("reflect", t);
      expect(r.verdict, `length ${t.length}`).toBe(t.length >= full ? XSK_TX : XSK_DROP);
      if (t.length < full) expect(hex(r.data)).toBe(hex(t));
    }
  });
});

const counting = `
import { XskPacket, XskVerdict, XSK_DROP, XSK_TX, HashMap, ArrayMap, PerCpuArray, u8, u32, u64 } from "xdpc";

interface Flow { packets: u64; bytes: u64 }

const flows = new HashMap<u32, Flow>({ maxEntries: 4 });
const allowed = new ArrayMap<u8>({ maxEntries: 65536 });
const perQueue = new PerCpuArray<u64>({ maxEntries: 8 });

export function count(pkt: XskPacket): XskVerdict {
  perQueue.increment(pkt.rxQueue);
  const ip = pkt.ipv4();
  if (ip === null) return XSK_DROP;
  const f = flows.lookup(ip.src);
  if (f === null) {
    if (!flows.update(ip.src, { packets: 1, bytes: pkt.len })) return XSK_DROP;
  } else {
    f.packets += 1;
    f.bytes += pkt.len;
  }
  const udp = pkt.udp();
  if (udp === null) return XSK_DROP;
  const a = allowed.lookup(udp.dstPort);
  if (a === null || a === 0) return XSK_DROP;
  // Checked raw load: the first payload byte, when there is one.
  const first = pkt.load8(42);
  if (first === null) return XSK_DROP;
  return first === 0x55 ? XSK_TX : XSK_DROP;
}
`;

const u32le = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const u64le = (n: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};
/** A u32 key holding an address as `ip.src` reads it (host order). */
const addr = (s: string) => u32le(ipv4ToU32(s));

describe("handlers with maps", () => {
  const out = wasmOf(counting);

  it("imports only the helpers it uses, all of which the host implements", () => {
    expect(out.imports!.map((i) => i.name).sort()).toEqual(["map_lookup_elem", "map_update_elem"]);
    expect(missingHelpers(out.binary)).toEqual([]);
  });

  it("counts flows in a hash map, reads an array map, and checks raw loads", () => {
    const host = new WasmHost(out.binary);
    host.map("allowed").update(Uint8Array.of(53, 0, 0, 0), Uint8Array.of(1), 0);
    const good = udp4({ sport: 1, dport: 53 }, { src: "198.18.0.1" }, Uint8Array.of(0x55));
    const other = udp4({ sport: 1, dport: 54 }, { src: "198.18.0.2" }, Uint8Array.of(0x55));
    const empty = udp4({ sport: 1, dport: 53 }, { src: "198.18.0.1" });
    expect(host.run("count", good, { rxQueue: 3 }).verdict).toBe(XSK_TX);
    expect(host.run("count", good, { rxQueue: 3 }).verdict).toBe(XSK_TX);
    expect(host.run("count", other, { rxQueue: 1 }).verdict).toBe(XSK_DROP);
    expect(host.run("count", empty, { rxQueue: 1 }).verdict).toBe(XSK_DROP);
    const flows = new Map(
      host
        .map("flows")
        .entries()
        .map(([k, v]) => [hex(k), hex(v)]),
    );
    expect(flows).toEqual(
      new Map([
        [
          hex(addr("198.18.0.1")),
          hex(concat(u64le(3n), u64le(BigInt(2 * good.length + empty.length)))),
        ],
        [hex(addr("198.18.0.2")), hex(concat(u64le(1n), u64le(BigInt(other.length))))],
      ]),
    );
    const q = host.map("perQueue");
    expect(hex(host.bytes().slice(q.lookup(u32le(3)), q.lookup(u32le(3)) + 8))).toBe(
      hex(u64le(2n)),
    );
    expect(hex(host.bytes().slice(q.lookup(u32le(1)), q.lookup(u32le(1)) + 8))).toBe(
      hex(u64le(2n)),
    );
  });

  it("fails an update when the hash map is full, as the kernel does", () => {
    const host = new WasmHost(out.binary);
    const srcs = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5"];
    const verdicts = srcs.map((s) => host.run("count", udp4({ dport: 9 }, { src: s })).verdict);
    expect(verdicts).toEqual([0, 0, 0, 0, 0]);
    expect(host.map("flows").entries().length).toBe(4);
    expect(host.map("flows").lookup(addr("198.18.0.4"))).not.toBe(0);
    expect(host.map("flows").lookup(addr("198.18.0.5"))).toBe(0);
  });
});

describe("helpers the host does not implement", () => {
  it("refuses the module up front and names the helper", () => {
    const out = wasmOf(`
import { XdpContext, XdpAction, XDP_PASS, FibLookupParams, fibLookup, zeroed } from "xdpc";
export function route(ctx: XdpContext): XdpAction {
  const p = zeroed<FibLookupParams>();
  p.ifindex = ctx.ifindex;
  if (fibLookup(ctx, p) === 0) return XDP_PASS;
  return XDP_PASS;
}
`);
    expect(missingHelpers(out.binary)).toEqual(["fib_lookup"]);
    expect(() => new WasmHost(out.binary)).toThrow(WasmHostError);
    expect(() => new WasmHost(out.binary)).toThrow(
      /^the wasm engine does not implement helper bpf_fib_lookup \(fibLookup\); the kernel engine has it$/,
    );
  });
});

it("keeps IPPROTO_UDP frames intact when the handler only reads", () => {
  const out = wasmOf(`
import { XskPacket, XskVerdict, XSK_DROP, XSK_TX } from "xdpc";
export function onlyUdp(pkt: XskPacket): XskVerdict {
  const ip = pkt.ipv4();
  if (ip !== null && ip.protocol === ${IPPROTO_UDP}) return XSK_TX;
  return XSK_DROP;
}
`);
  const host = new WasmHost(out.binary);
  const p = udp4();
  expect(host.run("onlyUdp", p)).toEqual({ verdict: XSK_TX, data: p });
});

describe("redirects and trace in the host", () => {
  const out = wasmOf(`
import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, DevMap, trace } from "xdpc";
const devs = new DevMap({ maxEntries: 8 });
export function fwd(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null) return XDP_PASS;
  trace("fwd %u to %d, %x", udp.srcPort, udp.dstPort - 10, udp.dstPort);
  return devs.redirect(udp.dstPort, XDP_DROP);
}
`);

  it("redirects through a DevMap entry, else returns the fallback", () => {
    const host = new WasmHost(out.binary);
    expect(host.map("devs").update(u32le(3), u32le(7), 0)).toBe(0);
    expect(host.map("devs").update(u32le(8), u32le(7), 0)).toBe(-7); // E2BIG
    expect(host.run("fwd", udp4({ sport: 5, dport: 3 })).verdict).toBe(4);
    expect(host.run("fwd", udp4({ sport: 5, dport: 4 })).verdict).toBe(1);
    expect(host.run("fwd", tcp4()).verdict).toBe(2);
    expect(host.traceLines).toEqual(["fwd 5 to -7, 3", "fwd 5 to -6, 4"]);
  });
});

describe("frames in a UMEM inside the shared memory", () => {
  it("runs handlers over frames in place, without copies", () => {
    const out = wasmOf(reflect);
    const host = new WasmHost(out.binary, { umemBytes: 4 * 2048 });
    expect(host.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    const umem = host.umem!;
    expect(umem.offset % 4096).toBe(0);
    expect(umem.size).toBe(8192);
    const frames = [udp4({ sport: 1, dport: 2 }, { ttl: 5 }), tcp4()];
    const HEADROOM = 256;
    frames.forEach((f, i) => host.bytes().set(f, umem.offset + i * 2048 + HEADROOM));
    const r = frames.map((f, i) =>
      host.runInPlace("reflect", { offset: umem.offset + i * 2048 + HEADROOM, len: f.length }),
    );
    expect(r.map((x) => x.verdict)).toEqual([XSK_TX, XSK_DROP]);
    const first = host
      .bytes()
      .slice(umem.offset + HEADROOM, umem.offset + HEADROOM + frames[0]!.length);
    expect(first[22]).toBe(4); // TTL spent, in the UMEM itself
    expect([first[34], first[35], first[36], first[37]]).toEqual([0, 2, 0, 1]);
  });

  it("reports moved bounds after adjustHead on a UMEM frame", () => {
    const out = wasmOf(`
import { XdpContext, XdpAction, XDP_TX, XDP_DROP } from "xdpc";
export function push(ctx: XdpContext): XdpAction {
  if (!ctx.adjustHead(-4)) return XDP_DROP;
  const e = ctx.eth();
  if (e === null) return XDP_DROP;
  e.dst = 0x0a0b0c0d0e0f;
  return XDP_TX;
}
`);
    const host = new WasmHost(out.binary, { umemBytes: 4096 });
    const at = host.umem!.offset + 256;
    const f = udp4();
    host.bytes().set(f, at);
    expect(host.runInPlace("push", { offset: at, len: f.length, headroom: 4 })).toEqual({
      verdict: 3,
      offset: at - 4,
      len: f.length + 4,
    });
    expect(hex(host.bytes().slice(at - 4, at + 2))).toBe("0a0b0c0d0e0f");
    // No headroom granted: the kernel's check refuses the move.
    expect(host.runInPlace("push", { offset: at, len: f.length, headroom: 3 }).verdict).toBe(1);
  });
});
