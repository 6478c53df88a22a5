// Checked raw stores, byte swaps, checksum helpers, DevMap/DevMapHash lookups and
// lookupRef (what ports of C programs needed) in the kernel, against values computed here.
import { afterEach, expect, it } from "vitest";
import { mapUpdate } from "../../native/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { runXdp, type XdpObject } from "../support/xdp.ts";
import { loadFixture, lookupU64, u32le } from "./harness.ts";
import { csumDiff, WasmHost } from "../../runtime/wasm/instance.ts";
import { inetChecksum } from "../../runtime/packets/build.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { compile } from "../../compiler/driver/index.ts";
import { fixture as fixtureSource } from "./harness.ts";

let open: XdpObject[] = [];
afterEach(() => {
  for (const o of open) o.close();
  open = [];
});
const fixture = () => {
  const o = loadFixture("rawpacket");
  open.push(o);
  return o;
};
const out = (o: XdpObject, i: number) => lookupU64(o, "out", u32le(i));

/** What bpf_csum_diff returns on this kernel (the Wasm host's version, checked here against it). */
const diff = (from: number[], to: number[], seed: number) =>
  BigInt(csumDiff(Uint8Array.from(from), Uint8Array.from(to), BigInt(seed)));
const fold = (s: bigint) => {
  let x = Number((s & 0xffffn) + (s >> 16n));
  x += x >> 16;
  return BigInt(~x & 0xffff);
};
const ipv4Frame = (ttl: number) => {
  const p = new Uint8Array(60);
  p.set([0x08, 0x00], 12);
  p.set([0x45, 0, 0, 46, 0, 1, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  // A correct header checksum.
  const c = inetChecksum(p.subarray(14, 34));
  p.set([c >> 8, c & 0xff], 24);
  return p;
};

describeKernel("raw stores, byte swaps, checksums, device maps (fixture rawpacket)", () => {
  it("stores raw bytes with the load bounds rules and swaps bytes", () => {
    const o = fixture();
    const p = new Uint8Array(40); // EtherType 0: no IPv4 until the raw store makes the version 4
    p[12] = 0x08;
    const r = runXdp(o.programFd("stores"), [p])[0]!;
    expect(r.name).toBe("XDP_TX");
    expect(out(o, 0)).toBe(5n); // ihl after the raw store of 0x45
    expect(out(o, 1)).toBe(1n);
    expect(out(o, 2)).toBe(0n); // len - 3 + 4 > len
    expect(Buffer.from(r.data.subarray(14, 22)).toString("hex")).toBe("45000000deadbeef");
    expect(Buffer.from(r.data.subarray(38, 40)).toString("hex")).toBe("beef");
    expect(out(o, 3)).toBe(0x3412n);
    expect(out(o, 4)).toBe(0x78563412n);
    expect(out(o, 5)).toBe(0x0807060504030201n);
    expect(out(o, 6)).toBe(0x0008n + 1n);
    // Too short for the first store: dropped, nothing written.
    expect(runXdp(o.programFd("stores"), [new Uint8Array(14)])[0]!.name).toBe("XDP_DROP");
  });

  it("computes bpf_csum_diff, folds, and updates checksums incrementally (RFC 1624)", () => {
    const o = fixture();
    const p = ipv4Frame(64);
    const r = runXdp(o.programFd("sums"), [p])[0]!;
    expect(r.name).toBe("XDP_PASS");
    const head = [...p.subarray(0, 20)];
    expect(out(o, 7)).toBe(diff([], head, 0));
    expect(out(o, 8)).toBe(fold(diff([], head, 0)));
    // Word {a, b} in memory: little-endian u16s.
    const w0 = [0x34, 0x12, 0x78, 0x56];
    const w1 = [0x35, 0x12, 0x78, 0x56];
    expect(out(o, 9)).toBe(diff(w0, w1, 0xffff));
    expect(out(o, 10)).toBe(diff([], w1, 7));
    // The TTL decrement keeps the header checksum valid.
    const ip = r.data.subarray(14, 34);
    expect(ip[8]).toBe(63);
    expect(inetChecksum(ip)).toBe(0);
    // The header summed by csumDiff over the (rewritten) view.
    expect(out(o, 12)).toBe(diff([...ip], [], 0));
    // Replacing the source address: the checksum of the header with the new source.
    const moved = ipv4Frame(64);
    moved.set([0xc6, 0x12, 0, 1], 26);
    moved.set([0, 0], 24);
    expect(out(o, 11)).toBe(BigInt(inetChecksum(moved.subarray(14, 34))));
  });

  it("looks up DevMap and DevMapHash entries and updates an integer value in place", () => {
    const o = fixture();
    mapUpdate(o.mapFd("devs"), u32le(4), u32le(1)); // lo
    mapUpdate(o.mapFd("devh"), u32le(60), u32le(1));
    const fd = o.programFd("devices");
    expect(runXdp(fd, [new Uint8Array(60)])[0]!.name).toBe("XDP_REDIRECT");
    expect(out(o, 13)).toBe(1n);
    expect(out(o, 14)).toBe(1n);
    expect(runXdp(fd, [new Uint8Array(61)])[0]!.name).toBe("XDP_PASS");
    expect(out(o, 13)).toBe(99n);
    expect(out(o, 14)).toBe(99n);
    expect(lookupU64(o, "counts", u32le(1))).toBe(7n);
  });

  it("the Wasm host agrees with the kernel on filled device maps", () => {
    const built = compile(fixtureSource("rawpacket"), { file: "rawpacket.ts", emit: "object" });
    const wasm = compileToWasm(built.checked!, { names: ["devices"] });
    const host = new WasmHost(wasm.binary!);
    host.map("devs").update(u32le(4), u32le(1), 0);
    host.map("devh").update(u32le(60), u32le(1), 0);
    const o = fixture();
    mapUpdate(o.mapFd("devs"), u32le(4), u32le(1));
    mapUpdate(o.mapFd("devh"), u32le(60), u32le(1));
    for (const len of [60, 61, 60]) {
      const k = runXdp(o.programFd("devices"), [new Uint8Array(len)])[0]!;
      const w = host.run("devices", new Uint8Array(len));
      expect(w.verdict).toBe(k.verdict);
      const hostOut = (i: number) =>
        new DataView(host.map("out").entries()[i]![1].buffer).getBigUint64(0, true);
      expect([hostOut(13), hostOut(14)]).toEqual([out(o, 13), out(o, 14)]);
    }
    const v = host.map("counts").entries()[0]![1];
    expect(new DataView(v.buffer).getBigUint64(0, true)).toBe(lookupU64(o, "counts", u32le(1)));
  });
});
