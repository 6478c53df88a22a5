// §5 header accessors and writes, ctx fields, checked loads, adjustHead/adjustTail, in the kernel.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import type { XdpObject } from "../support/xdp.ts";
import { build as packet, ipv4, ipv6, mac, TCP_SYN, TCP_ACK } from "../../runtime/packets/build.ts";
import { loadFixture, lookupU64, run, u32le } from "./harness.ts";

describeKernel("§5 packet access (fixture headers)", () => {
  let obj: XdpObject;
  beforeAll(() => {
    obj = loadFixture("headers");
  });
  afterAll(() => obj?.close());
  const seen = (i: number) => lookupU64(obj, "seen", u32le(i));
  const be16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
  const be32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint32(o);

  it("loads every program of the file", () => {
    expect(obj.programs.sort()).toEqual(["grow", "raw", "reflect", "retag", "six"]);
  });

  it("reflects a UDP datagram: MACs, addresses, TTL, tos, id, flags and ports rewritten", () => {
    const pkt = packet({
      l3: { kind: "ipv4", src: "198.18.0.1", dst: "198.19.0.1", ttl: 64 },
      l4: { kind: "udp", sport: 1234, dport: 53 },
      payload: new Uint8Array(4),
    });
    const r = run(obj, "reflect", pkt);
    expect(r.retval).toBe(3);
    const o = r.data;
    expect([...o.subarray(0, 6)]).toEqual([...mac("02:00:00:00:00:01")]);
    expect([...o.subarray(6, 12)]).toEqual([...mac("02:00:00:00:00:02")]);
    expect(o[15]).toBe(0x10); // tos
    expect(be16(o, 18)).toBe(0xbeef);
    expect(o[20]! >> 5).toBe(2); // DF
    expect(o[22]).toBe(63);
    expect([...o.subarray(26, 30)]).toEqual([...ipv4("198.19.0.1")]);
    expect([...o.subarray(30, 34)]).toEqual([...ipv4("198.18.0.1")]);
    expect(be16(o, 34)).toBe(53);
    expect(be16(o, 36)).toBe(1234);
    expect(be16(o, 40)).toBe(0);
    expect(seen(0)).toBe(4n);
    expect(seen(1)).toBe(5n);
    expect(seen(2)).toBe(BigInt(pkt.length - 14));
    expect(seen(3)).toBe(17n);
    expect(seen(4)).toBe(0n);
    expect(seen(5)).toBe(12n);
  });

  it("answers a SYN with a SYN-ACK and reads every TCP field", () => {
    const pkt = packet({
      l3: { kind: "ipv4" },
      l4: { kind: "tcp", flags: TCP_SYN, seq: 1000, ack: 7, window: 512, urgent: 9 },
    });
    const r = run(obj, "reflect", pkt);
    expect(r.retval).toBe(3);
    expect(seen(6)).toBe(1000n);
    expect(seen(7)).toBe(7n);
    expect(seen(8)).toBe(5n);
    expect(seen(9)).toBe(512n);
    expect(seen(10)).toBe(9n);
    expect(r.data[14 + 20 + 13]).toBe(TCP_SYN | TCP_ACK);
    expect(be32(r.data, 14 + 20 + 8)).toBe(1001);
    expect(be32(r.data, 14 + 20 + 4)).toBe(0x01020304);
    expect(be16(r.data, 14 + 20 + 14)).toBe(1024);
    const ack = packet({ l3: { kind: "ipv4" }, l4: { kind: "tcp", flags: TCP_ACK } });
    expect(run(obj, "reflect", ack).retval).toBe(1);
  });

  it("turns an ICMP echo request into a reply", () => {
    const pkt = packet({ l3: { kind: "ipv4" }, l4: { kind: "icmp", type: 8, id: 77, seq: 3 } });
    const r = run(obj, "reflect", pkt);
    expect(r.retval).toBe(3);
    expect(r.data[34]).toBe(0);
    expect(seen(11)).toBe(77n);
    expect(seen(12)).toBe(3n);
    expect(seen(13)).toBe(0n);
  });

  it("passes non-IP and drops nothing it cannot parse", () => {
    expect(run(obj, "reflect", packet({ l3: { kind: "arp" } })).retval).toBe(2);
    const short = packet({ l3: { kind: "ipv4" }, l4: { kind: "udp" } }).subarray(0, 30);
    expect(run(obj, "reflect", short).retval).toBe(2);
  });

  it("rewrites the VLAN id and keeps PCP and DEI", () => {
    const pkt = packet({
      eth: { vlans: [{ vid: 100, pcp: 5, dei: true }] },
      l3: { kind: "ipv4" },
      l4: { kind: "udp" },
    });
    const r = run(obj, "retag", pkt);
    expect(r.retval).toBe(3);
    expect(seen(0)).toBe(BigInt((5 << 13) | (1 << 12) | 100));
    expect(seen(1)).toBe(0x800n);
    expect(be16(r.data, 14)).toBe((5 << 13) | (1 << 12) | 42);
    expect(run(obj, "retag", packet({ l3: { kind: "ipv4" }, l4: { kind: "udp" } })).retval).toBe(2);
  });

  it("edits IPv6 fields and address bytes; a variable index out of range reads 0, writes nothing", () => {
    const spec = {
      eth: { dst: "12:00:00:00:00:02" }, // first byte (0x12 → index 18) is the variable index
      l3: {
        kind: "ipv6" as const,
        src: "2001:db8::1",
        dst: "2001:db8::2",
        hopLimit: 9,
        trafficClass: 0,
        flowLabel: 1,
      },
      l4: { kind: "icmp6" as const, type: 128 },
    };
    const pkt = packet(spec);
    const r = run(obj, "six", pkt);
    expect(r.retval).toBe(3);
    const o = r.data;
    expect(o[14 + 7]).toBe(8);
    const vtf = be32(o, 14);
    expect(vtf >>> 28).toBe(6);
    expect((vtf >>> 20) & 0xff).toBe(0x2e);
    expect(vtf & 0xfffff).toBe(0xabcde);
    expect(seen(0)).toBe(6n);
    expect(seen(1)).toBe(8n);
    expect(seen(2)).toBe(58n);
    expect(seen(3)).toBe(1n);
    const d = ipv6("2001:db8::2");
    expect(seen(4)).toBe(BigInt(d.reduce((a, b) => a + b, 0)));
    expect(seen(5)).toBe(0n);
    expect([...o.subarray(38, 54)]).toEqual([...d]); // index 18: no write
    expect(o[22]).toBe(0x20);
    expect(o[14 + 40]).toBe(129);
    // In range: index 2 of src is read, index 2 of dst written.
    const p2 = packet({ ...spec, eth: { dst: "02:00:00:00:00:02" } });
    const r2 = run(obj, "six", p2);
    expect(seen(5)).toBe(0x0dn);
    expect(r2.data[38 + 2]).toBe(0xee);
    const tcp = packet({ l3: { kind: "ipv6", hopLimit: 5 }, l4: { kind: "tcp", dport: 443 } });
    expect(run(obj, "six", tcp).retval).toBe(2);
    expect(seen(6)).toBe(443n);
    const udp = packet({ l3: { kind: "ipv6", hopLimit: 5 }, l4: { kind: "udp", dport: 4789 } });
    expect(run(obj, "six", udp).retval).toBe(2);
    expect(seen(7)).toBe(4789n);
    expect(run(obj, "six", packet({ l3: { kind: "ipv6", hopLimit: 1 } })).retval).toBe(1);
  });

  it("checked loads at variable offsets; adjustTail and adjustHead then re-parse", () => {
    const pkt = packet({
      eth: { vlans: [{ vid: 7 }] },
      l3: { kind: "ipv4", ttl: 33 },
      l4: { kind: "udp" },
      payload: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    });
    let x = 0;
    for (let off = 0; off + 4 <= Math.min(64, pkt.length); off += 4) x ^= be32(pkt, off);
    const r = run(obj, "raw", pkt);
    expect(r.retval).toBe(3);
    expect(seen(0)).toBe(BigInt(x >>> 0));
    expect(seen(1)).toBe(8n);
    expect(seen(2)).toBe(1n);
    expect(seen(3)).toBe(BigInt(pkt.length - 4));
    expect(seen(4)).toBe(33n);
    expect(seen(5)).toBe(BigInt(pkt.length - 8));
    expect(r.data.length).toBe(pkt.length - 8);
    expect([...r.data.subarray(0, 12)]).toEqual([...pkt.subarray(0, 12)]);
    expect(be16(r.data, 12)).toBe(0x0800);
  });

  it("grows the head", () => {
    const pkt = packet({ l3: { kind: "ipv4" }, l4: { kind: "udp" } });
    const r = run(obj, "grow", pkt);
    expect(r.retval).toBe(2);
    expect(r.data.length).toBe(pkt.length + 4);
    expect([...r.data.subarray(0, 6)]).toEqual([0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]);
    expect(seen(0)).toBe(BigInt(pkt.length + 4));
  });
});
