import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  PcapError,
  packetsOfLinkType,
  readPcap,
  writePcap,
  writePcapng,
} from "../../runtime/packets/pcap.ts";
import { fromHex, udp4 } from "../../runtime/packets/build.ts";
import { arbPacket } from "../support/crafted.ts";

const pkts = [
  { data: udp4(), ts: 1_700_000_000_123_456_000n },
  { data: fromHex("ffffffffffff020000000001 0806"), ts: 1_700_000_001_000_001_000n, origLen: 60 },
  { data: new Uint8Array(0), ts: 0n },
];

function errorOf(f: () => unknown): PcapError {
  try {
    f();
  } catch (e) {
    if (e instanceof PcapError) return e;
    throw e;
  }
  throw new Error("expected a PcapError");
}

describe("pcap reader/writer", () => {
  for (const littleEndian of [true, false]) {
    for (const nanosecond of [false, true]) {
      it(`round-trips classic pcap (${littleEndian ? "LE" : "BE"}, ${nanosecond ? "ns" : "us"})`, () => {
        const file = writePcap(pkts, { littleEndian, nanosecond });
        const magic = new DataView(file.buffer).getUint32(0, false);
        const expected = nanosecond ? 0xa1b23c4d : 0xa1b2c3d4;
        expect(magic).toBe(littleEndian ? Number(swap32(expected)) : expected);
        const r = readPcap(file);
        expect(r).toMatchObject({
          format: "pcap",
          littleEndian,
          nanosecond,
          linkType: LINKTYPE_ETHERNET,
          snapLen: 262144,
        });
        expect(r.packets.map((p) => [p.data, p.origLen, p.ts, p.linkType])).toEqual(
          pkts.map((p) => [p.data, p.origLen ?? p.data.length, p.ts, LINKTYPE_ETHERNET]),
        );
      });
    }
    it(`round-trips pcapng with two link types (${littleEndian ? "LE" : "BE"})`, () => {
      const file = writePcapng(
        pkts.map((p, i) => ({ ...p, interfaceId: i % 2 })),
        { littleEndian, linkTypes: [LINKTYPE_ETHERNET, LINKTYPE_RAW] },
      );
      const r = readPcap(file);
      expect(r).toMatchObject({ format: "pcapng", littleEndian, linkType: LINKTYPE_ETHERNET });
      expect(r.packets.map((p) => [p.data, p.origLen, p.ts, p.linkType, p.interfaceId])).toEqual(
        pkts.map((p, i) => [
          p.data,
          p.origLen ?? p.data.length,
          p.ts,
          i % 2 ? LINKTYPE_RAW : LINKTYPE_ETHERNET,
          i % 2,
        ]),
      );
    });
  }

  it("microsecond pcap keeps microseconds (sub-us digits are dropped on write)", () => {
    const r = readPcap(writePcap([{ data: udp4(), ts: 5_000_000_999n }]));
    expect(r.packets[0]!.ts).toBe(5_000_000_000n);
  });

  it("reads timestamps beyond 2^53 ns exactly (year 2106)", () => {
    const ts = 0xffffffffn * 1_000_000_000n + 999_999_000n;
    expect(readPcap(writePcap([{ data: udp4(), ts }])).packets[0]!.ts).toBe(ts);
  });

  it("property: any packets round-trip through both formats and byte orders", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            arbPacket({ truncate: true }),
            fc.bigInt({ min: 0n, max: 0xffffffffn * 1_000_000_000n }),
          ),
          { maxLength: 8 },
        ),
        fc.boolean(),
        (list, le) => {
          const input = list.map(([data, ts]) => ({ data, ts }));
          for (const file of [
            writePcap(input, { littleEndian: le, nanosecond: true }),
            writePcapng(input, { littleEndian: le }),
          ]) {
            const r = readPcap(file);
            expect(r.packets.map((p) => [p.data, p.ts])).toEqual(input.map((p) => [p.data, p.ts]));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("packetsOfLinkType accepts Ethernet and names the first packet of another link type", () => {
    expect(packetsOfLinkType(readPcap(writePcap(pkts))).length).toBe(3);
    const raw = readPcap(writePcap(pkts, { linkType: 113 }));
    const e = errorOf(() => packetsOfLinkType(raw));
    expect(e.message).toBe(
      "packet 1 has unsupported link type Linux cooked (SLL) (LINKTYPE 113); expected Ethernet (LINKTYPE 1) (at byte offset 24)",
    );
    const mixedBytes = writePcapng(
      pkts.map((p, i) => ({ ...p, interfaceId: i === 2 ? 1 : 0 })),
      { linkTypes: [1, 101] },
    );
    const mixed = readPcap(mixedBytes);
    const m = errorOf(() => packetsOfLinkType(mixed));
    expect(m.message).toMatch(/^packet 3 has unsupported link type raw IP \(LINKTYPE 101\)/);
    expect(m.offset).toBe(mixed.packets[2]!.offset);
    expect(new DataView(mixedBytes.buffer).getUint32(mixed.packets[2]!.offset, true)).toBe(6); // an EPB starts there
    expect(packetsOfLinkType(raw, 113).length).toBe(3);
  });

  it("reads the link-type field without its FCS bits", () => {
    const file = writePcap(pkts, { linkType: 0x1000_0000 | LINKTYPE_ETHERNET });
    expect(readPcap(file).linkType).toBe(LINKTYPE_ETHERNET);
  });

  it("reads a Kuznetsov modified pcap (24-byte record headers)", () => {
    const std = writePcap([{ data: udp4(), ts: 1_000_000n }]);
    const mod = new Uint8Array(std.length + 8);
    mod.set(std.subarray(0, 40));
    mod.set(std.subarray(40), 48);
    new DataView(mod.buffer).setUint32(0, 0xa1b2cd34, true);
    expect(readPcap(mod).packets[0]!.data).toEqual(udp4());
  });

  it("reads pcapng SPB and OPB blocks, skips unknown blocks and honours if_tsresol/if_tsoffset", () => {
    const le = true;
    const blocks: Uint8Array[] = [];
    const block = (type: number, body: number[]) => {
      const len = 12 + body.length;
      const b = new Uint8Array(len);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, type, le);
      dv.setUint32(4, len, le);
      b.set(body, 8);
      dv.setUint32(len - 4, len, le);
      blocks.push(b);
    };
    const u32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24];
    const u16 = (v: number) => [v & 0xff, v >> 8];
    block(0x0a0d0d0a, [
      ...u32(0x1a2b3c4d),
      ...u16(1),
      ...u16(0),
      ...u32(0xffffffff),
      ...u32(0xffffffff),
    ]);
    // IDB: Ethernet, snaplen 4, if_tsresol = 2^-10, if_tsoffset = 100 s
    block(1, [
      ...u16(1),
      0,
      0,
      ...u32(4),
      ...u16(9),
      ...u16(1),
      0x8a,
      0,
      0,
      0,
      ...u16(14),
      ...u16(8),
      100,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
    block(0x0bad, [1, 2, 3, 4]); // unknown block type
    block(3, [...u32(6), 1, 2, 3, 4, 5, 6, 0, 0]); // SPB: orig 6, snaplen cuts to 4
    block(2, [...u16(0), ...u16(0), ...u32(0), ...u32(1024), ...u32(2), ...u32(2), 9, 8, 0, 0]); // OPB
    block(5, [...u32(0), ...u32(0), ...u32(0)]); // ISB
    const file = Buffer.concat(blocks);
    const r = readPcap(new Uint8Array(file));
    expect(r.packets.map((p) => [[...p.data], p.origLen, p.ts])).toEqual([
      [[1, 2, 3, 4], 6, 0n],
      [[9, 8], 2, 100_000_000_000n + 1_000_000_000n],
    ]);
  });

  describe("malformed files raise PcapError with the offset", () => {
    const good = writePcap(pkts.slice(0, 2));

    it("bad magic", () => {
      const e = errorOf(() => readPcap(new Uint8Array(32).fill(0x42)));
      expect(e.message).toMatch(/bad magic 0x42424242.*at byte offset 0/);
    });

    it("too short for a magic number", () => {
      expect(errorOf(() => readPcap(new Uint8Array(2))).offset).toBe(0);
    });

    it("every truncation of a valid file either parses a prefix of its packets or names the cut", () => {
      const full = readPcap(good).packets;
      const recordStarts = [24, 24 + 16 + pkts[0]!.data.length, good.length];
      for (let n = 0; n < good.length; n++) {
        const cut = good.slice(0, n);
        if (recordStarts.includes(n)) {
          // A cut exactly between records is a valid file with fewer packets.
          expect(readPcap(cut).packets).toEqual(full.slice(0, recordStarts.indexOf(n)));
          continue;
        }
        const e = errorOf(() => readPcap(cut));
        expect(e.offset).toBeLessThanOrEqual(n);
        expect(e.message).toMatch(/truncated|too short/);
        if (n > 24)
          expect(recordStarts.some((s) => e.offset === s || e.offset === s + 16)).toBe(true);
      }
    });

    it("truncated packet data names the packet and the offset of its data", () => {
      const e = errorOf(() => readPcap(good.slice(0, good.length - 3)));
      expect(e.offset).toBe(24 + 16 + pkts[0]!.data.length + 16);
      expect(e.message).toMatch(
        /truncated packet 2: captured length 14 but only 11 bytes remain \(at byte offset \d+\)/,
      );
    });

    it("unsupported pcap version", () => {
      const f = good.slice();
      f[4] = 9;
      expect(errorOf(() => readPcap(f))).toMatchObject({ offset: 4 });
    });

    it("every truncation of a pcapng file is an error or a shorter valid file, never a crash", () => {
      const ng = writePcapng(pkts, { littleEndian: false });
      for (let n = 0; n < ng.length; n++) {
        try {
          const r = readPcap(ng.slice(0, n));
          expect(r.packets.length).toBeLessThan(pkts.length);
        } catch (e) {
          expect(e).toBeInstanceOf(PcapError);
          expect((e as PcapError).offset).toBeLessThanOrEqual(n);
        }
      }
    });

    it("pcapng trailing length mismatch, bad block length, unknown interface", () => {
      const ng = writePcapng(pkts.slice(0, 1));
      const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
      const shb = 28;
      const idb = 32;
      const a = ng.slice();
      dv(a).setUint32(a.length - 4, 1234, true);
      expect(errorOf(() => readPcap(a))).toMatchObject({ offset: a.length - 4 });
      expect(errorOf(() => readPcap(a)).message).toMatch(/trailing length 1234/);
      const b = ng.slice();
      dv(b).setUint32(shb + 4, 13, true);
      expect(errorOf(() => readPcap(b))).toMatchObject({ offset: shb + 4 });
      const c = ng.slice();
      dv(c).setUint32(shb + idb + 8, 7, true);
      expect(errorOf(() => readPcap(c)).message).toMatch(/interface 7 but only 1 are defined/);
      const d = ng.slice();
      dv(d).setUint32(8, 0x12345678, true);
      expect(errorOf(() => readPcap(d))).toMatchObject({ offset: 8 });
    });

    it("property: random corruption never crashes the reader", () => {
      const files = [good, writePcapng(pkts), writePcapng(pkts, { littleEndian: false })];
      fc.assert(
        fc.property(
          fc.nat(2),
          fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
          (which, edits) => {
            const f = files[which]!.slice();
            for (const [at, v] of edits) f[at % f.length] = v;
            try {
              readPcap(f);
            } catch (e) {
              expect(e).toBeInstanceOf(PcapError);
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});

function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
