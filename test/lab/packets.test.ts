// runtime/packets/build.ts (the runtime's small builder) against test/support/packets.ts (the
// test kit's independent one): the same fields give the same bytes, checksums included.
import { describe, expect, it } from "vitest";
import { build } from "../support/packets.ts";
import {
  buildFrame,
  inetChecksum,
  parseIpv4,
  parseMac,
  TCP_ACK,
  TCP_SYN,
} from "../../runtime/packets/build.ts";

const eth = {
  srcMac: "02:00:c6:12:00:02",
  dstMac: "02:00:c6:12:00:01",
  src: "198.19.66.6",
  dst: "198.18.0.1",
};
const kit = (l4: Parameters<typeof build>[0]["l4"], payload?: Uint8Array) =>
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

describe("runtime packet builder", () => {
  it("builds TCP frames byte for byte like the test kit", () => {
    const payload = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
    const ours = buildFrame({
      ...eth,
      l4: {
        proto: "tcp",
        sport: 6666,
        dport: 80,
        flags: TCP_SYN | TCP_ACK,
        seq: 7,
        ack: 9,
        window: 1000,
      },
      payload,
    });
    expect(ours).toEqual(
      padded(
        kit(
          {
            kind: "tcp",
            sport: 6666,
            dport: 80,
            flags: TCP_SYN | TCP_ACK,
            seq: 7,
            ack: 9,
            window: 1000,
          },
          payload,
        ),
      ),
    );
  });
  it("builds UDP and ICMP echo frames byte for byte like the test kit", () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    expect(buildFrame({ ...eth, l4: { proto: "udp", sport: 1900, dport: 53 }, payload })).toEqual(
      padded(kit({ kind: "udp", sport: 1900, dport: 53 }, payload)),
    );
    expect(buildFrame({ ...eth, l4: { proto: "icmp", id: 3, seq: 4 }, payload })).toEqual(
      padded(kit({ kind: "icmp", type: 8, id: 3, seq: 4 }, payload)),
    );
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
    expect(parseMac("02:00:c6:12:00:01")).toEqual(new Uint8Array([2, 0, 0xc6, 0x12, 0, 1]));
    expect(parseIpv4("198.19.0.255")).toEqual(new Uint8Array([198, 19, 0, 255]));
    expect(() => parseIpv4("1.2.3.256")).toThrow(/bad IPv4/);
    expect(() => parseMac("02:00:c6")).toThrow(/bad MAC/);
  });
});
