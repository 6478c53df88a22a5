// The opt-in `verdictStats` compile option: off, the object is exactly the normal
// build; on, every XDP program counts each returned verdict in the hidden per-CPU
// array `xdpc_verdicts`, and the counts equal the verdicts BPF_PROG_TEST_RUN returned.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { VERDICT_MAP } from "../../compiler/uapi/bpf.ts";
import { TypedMap } from "../../runtime/observe/maps.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, runXdp, checkFdLeaks, type XdpObject } from "../support/xdp.ts";
import { tcp4 } from "../../runtime/packets/build.ts";
import { craftedCorpus } from "../support/crafted.ts";

const FILTERS = readdirSync(new URL("../../filters/", import.meta.url)).filter(
  (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
);

function build(file: string, opts: { verdictStats?: boolean } = {}): Uint8Array {
  const path = `filters/${file}`;
  const out = compile(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"), {
    file: path,
    emit: "object",
    ...opts,
  });
  if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  return out.object;
}

describe("verdictStats off", () => {
  it.each(FILTERS)(
    "%s: the object is byte-for-byte the normal build, with no hidden map",
    (file) => {
      const normal = build(file);
      expect(build(file, { verdictStats: false })).toEqual(normal);
      expect(readObject(normal).maps.map((m) => m.name)).not.toContain(VERDICT_MAP);
    },
  );

  it("on: adds exactly one map, PerCpuArray<u64> of 5, and keeps the other maps", () => {
    for (const file of FILTERS) {
      const off = readObject(build(file));
      const on = readObject(build(file, { verdictStats: true }));
      // Type ids move (the hidden map's types come first), so compare without them.
      const plain = (ms: typeof off.maps) =>
        ms.map(({ recordType: _r, keyType: _k, valueType: _v, ...m }) => m);
      expect(plain(on.maps.filter((m) => m.name !== VERDICT_MAP))).toEqual(plain(off.maps));
      expect(on.maps.find((m) => m.name === VERDICT_MAP)).toMatchObject({
        type: 6,
        keySize: 4,
        valueSize: 8,
        maxEntries: 5,
      });
      expect(on.programs.map((p) => p.name)).toEqual(off.programs.map((p) => p.name));
    }
  });
});

describeKernel("verdictStats counters under BPF_PROG_TEST_RUN", () => {
  const corpus = craftedCorpus({ randomCount: 40 }).map((p) => p.data);
  // syn_guard drops once a source's bucket is empty: many SYNs from one source give drops too.
  const synFlood = Array.from({ length: 250 }, () => tcp4({ flags: 0x02 }, { src: "198.18.9.9" }));
  checkFdLeaks("all");

  for (const file of FILTERS) {
    describe(file, () => {
      let on: XdpObject;
      let off: XdpObject;
      let bytes: Uint8Array;
      beforeAll(() => {
        bytes = build(file, { verdictStats: true });
        on = loadXdpObject(bytes);
        off = loadXdpObject(build(file));
      });
      afterAll(() => {
        on?.close();
        off?.close();
      });

      it("counts every verdict exactly and changes no verdict or output byte", () => {
        const packets = [...corpus, ...synFlood];
        if (file === "lpm_firewall.ts") {
          for (const o of [on, off]) {
            const bytesOf = o === on ? bytes : build(file);
            const trie = TypedMap.fromObject(o.object, bytesOf, "blocklist4");
            trie.set("198.18.0.0/16", 1);
          }
        }
        const got = runXdp(on.programFd(), packets);
        const want = runXdp(off.programFd(), packets);
        // syn_guard refills its buckets from ktimeNs(), so two runs may differ near the limit.
        if (file !== "syn_guard.ts")
          expect(got.map((r) => [r.verdict, Buffer.from(r.data).toString("hex")])).toEqual(
            want.map((r) => [r.verdict, Buffer.from(r.data).toString("hex")]),
          );
        const expected = [0n, 0n, 0n, 0n, 0n];
        for (const r of got) {
          expect(r.verdict).toBeGreaterThanOrEqual(0);
          expected[r.verdict]! += 1n;
        }
        const counters = TypedMap.fromObject(on.object, bytes, VERDICT_MAP);
        expect([...counters.entries()].map((e) => e.value)).toEqual(expected);
        // The packets must exercise more than one verdict for the check to mean something
        // (tcp_events is an observer: it passes everything).
        expect(expected.filter((n) => n > 0n).length).toBeGreaterThan(
          file === "tcp_events.ts" ? 0 : 1,
        );
        expect(expected.reduce((a, b) => a + b)).toBe(BigInt(packets.length));
      });
    });
  }
});
