// buildFrame, the traffic generator's shorthand in runtime/packets/build.ts: the same bytes
// as build() given the generator's defaults (DF, identification 0, TTL 64, TCP window
// 64240, ICMP id 1), padded to the Ethernet minimum; and its checksums verify from scratch.
import { describe, expect, it } from "vitest";
import {
  build,
  buildFrame,
  inetChecksum,
  ipv4,
  mac,
  TCP_ACK,
  TCP_SYN,
  type L4Spec,
} from "../../runtime/packets/build.ts";

const eth = {
  srcMac: "02:00:c6:12:00:02",
  dstMac: "02:00:c6:12:00:01",
  src: "198.19.66.6",
  dst: "198.18.0.1",
};
const full = (l4: L4Spec, payload?: Uint8Array) =>
  build({
    eth: { src: eth.srcMac, dst: eth.dstMac },
    l3: { kind: "ipv4", src: eth.src, dst: eth.dst, id: 0, ttl: 64, df: true },
    l4,
    payload,
  });
const padded = (b: Uint8Array, n = 60) => {
  const out = new Uint8Array(Math.max(n, b.length));
  out.set(b);
  return out;
};

/** The IPv4 header and the L4 segment (over its pseudo header) each sum to zero. */
function expectChecksumsValid(frame: Uint8Array) {
  const ip = frame.subarray(14, 34);
  expect(inetChecksum(ip)).toBe(0);
  const total = (ip[2]! << 8) | ip[3]!;
  const seg = frame.subarray(34, 14 + total);
  if (ip[9] === 1) return expect(inetChecksum(seg)).toBe(0);
  const pseudo = Uint8Array.of(...ip.subarray(12, 20), 0, ip[9]!, seg.length >> 8, seg.length);
  expect(inetChecksum(pseudo, seg)).toBe(0);
}

describe("runtime frame shorthand", () => {
  it("builds TCP frames as build() does with the generator's defaults", () => {
    const payload = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
    const tcp = { sport: 6666, dport: 80, flags: TCP_SYN | TCP_ACK, seq: 7, ack: 9 };
    const ours = buildFrame({ ...eth, l4: { proto: "tcp", ...tcp, window: 1000 }, payload });
    expect(ours).toEqual(padded(full({ kind: "tcp", ...tcp, window: 1000 }, payload)));
    expectChecksumsValid(ours);
    const defaults = buildFrame({ ...eth, l4: { proto: "tcp", sport: 1, dport: 2, flags: 0 } });
    expect(defaults).toEqual(
      padded(full({ kind: "tcp", sport: 1, dport: 2, flags: 0, seq: 1, ack: 0, window: 64240 })),
    );
    expectChecksumsValid(defaults);
  });
  it("builds UDP and ICMP echo frames as build() does", () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const udp = buildFrame({ ...eth, l4: { proto: "udp", sport: 1900, dport: 53 }, payload });
    expect(udp).toEqual(padded(full({ kind: "udp", sport: 1900, dport: 53 }, payload)));
    expectChecksumsValid(udp);
    const icmp = buildFrame({ ...eth, l4: { proto: "icmp", seq: 4 }, payload });
    expect(icmp).toEqual(padded(full({ kind: "icmp", type: 8, id: 1, seq: 4 }, payload)));
    expectChecksumsValid(icmp);
  });
  it("pads to the Ethernet minimum or a requested length, never cuts", () => {
    expect(buildFrame({ ...eth, l4: { proto: "udp", sport: 1, dport: 2 } })).toHaveLength(60);
    expect(
      buildFrame({ ...eth, l4: { proto: "udp", sport: 1, dport: 2 }, minLength: 512 }),
    ).toHaveLength(512);
    expect(
      buildFrame({
        ...eth,
        l4: { proto: "udp", sport: 1, dport: 2 },
        payload: new Uint8Array(100),
        minLength: 60,
      }),
    ).toHaveLength(142);
  });
  it("checksums and parsers", () => {
    expect(inetChecksum(new Uint8Array([0x45, 0x00, 0x00, 0x1c]))).toBe(
      ~(0x4500 + 0x001c) & 0xffff,
    );
    expect(inetChecksum(new Uint8Array([0x01]))).toBe(~0x0100 & 0xffff); // odd length pads with zero
    expect(mac("02:00:c6:12:00:01")).toEqual(new Uint8Array([2, 0, 0xc6, 0x12, 0, 1]));
    expect(ipv4("198.19.0.255")).toEqual(new Uint8Array([198, 19, 0, 255]));
    expect(() => ipv4("1.2.3.256")).toThrow("bad IPv4 address '1.2.3.256'");
    expect(() => ipv4("1.2.3")).toThrow(/bad IPv4/);
    expect(() => mac("02:00:c6")).toThrow("bad MAC address '02:00:c6'");
    expect(() => mac("02:00:c6:12:00:zz")).toThrow(/bad MAC/);
  });
});
