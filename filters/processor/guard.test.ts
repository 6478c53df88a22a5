// guard.ts against its clang -O2 twin (test/control/guard.c) over the corpus, both loaded
// and run through `xdpc/runtime` itself: the same verdicts and bytes on every packet,
// the same map contents, and the same ring-buffer records in the same order.
import { expect, it } from "vitest";
import { join } from "node:path";
import { describeKernel } from "../../test/support/kernel.ts";
import { loadCorpus } from "../../test/support/corpus.ts";
import { compileBpfC, clangUnavailableReason } from "../../test/differential/clang.ts";
import { ip, open, type Collection } from "../../runtime/control/index.ts";
import type * as Guard from "./guard.ts";

const repo = join(import.meta.dirname, "../..");

describeKernel("guard.ts and its clang twin", () => {
  const clang = clangUnavailableReason();
  it.skipIf(clang !== null)(`agree on every corpus packet, map and record${clang ? ` [${clang}]` : ""}`, async () => {
    const packets = loadCorpus().packets;
    const sides = [
      open<typeof Guard>(join(import.meta.dirname, "guard.ts")),
      open<typeof Guard>(compileBpfC({ path: join(repo, "test/control/guard.c") })),
    ].map((s) => s.load());
    try {
      const results = sides.map((c: Collection<typeof Guard>) => {
        // Prefixes that the corpus's sources fall into, and one that nothing hits.
        c.maps.blocked.updateBatch([
          [{ prefixlen: 8, addr: ip("10.0.0.0") }, 0n],
          [{ prefixlen: 16, addr: ip("192.168.0.0") }, 0n],
          [{ prefixlen: 24, addr: ip("198.18.7.0") }, 0n],
          [{ prefixlen: 32, addr: ip("203.0.113.9") }, 0n],
        ]);
        const runs = packets.map((p) => c.programs.guard.run(p.data));
        return {
          verdicts: runs.map((r) => r.retval),
          bytes: runs.map((r) => Buffer.from(r.data).toString("hex")),
          blocked: [...c.maps.blocked.entries()],
          traffic: c.maps.traffic.lookup(0)!.reduce(
            (a, t) => ({ packets: a.packets + t.packets, bytes: a.bytes + t.bytes }),
            { packets: 0n, bytes: 0n },
          ),
        };
      });
      const [ours, twin] = results as [(typeof results)[0], (typeof results)[0]];
      const drops = ours.verdicts.filter((v) => v === 1).length;
      console.log(`[guard] ${packets.length} packets, ${drops} dropped by both`);
      expect(drops).toBeGreaterThan(0);
      expect(ours.verdicts).toEqual(twin.verdicts);
      expect(ours.bytes).toEqual(twin.bytes);
      expect(ours.blocked).toEqual(twin.blocked);
      expect(ours.traffic).toEqual(twin.traffic);
      expect(ours.traffic.packets).toBe(BigInt(packets.length));
      // Every drop left one record, identical on both sides.
      const records: unknown[][] = [];
      for (const c of sides) {
        const out: unknown[] = [];
        for await (const ev of c.ringbuf("drops")) if (out.push(ev.record) === drops) break;
        records.push(out);
      }
      expect(records[0]).toHaveLength(drops);
      // The twin's object has no record type in its BTF, so its records come as bytes:
      // decode them with struct Drop's C layout.
      const decoded = (records[1] as { bytes: string }[]).map(({ bytes }) => {
        const b = Buffer.from(bytes, "hex");
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        return {
          src: dv.getUint32(0, true),
          dst: dv.getUint32(4, true),
          len: dv.getUint16(8, true),
          proto: dv.getUint8(10),
          ttl: dv.getUint8(11),
          prefixHits: dv.getUint32(12, true),
        };
      });
      expect(records[0]).toEqual(decoded);
    } finally {
      for (const c of sides) c.close();
    }
  }, 120_000);
});
