// Every C twin of an example filter (test/twins/*.c), built by clang -O2 and loaded
// through libbpf, runs over the whole corpus. This checks the twins themselves: they
// load, they do something other than abort, and a twin that does not read the clock is
// deterministic (two fresh loads agree packet for packet and map for map).
// test/codegen/twins-diff.test.ts runs xdpc's builds against them with diffObjects.
import { expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import {
  checkFdLeaks,
  loadXdpObject,
  runXdp,
  verdictHistogram,
  type XdpObject,
} from "../support/xdp.ts";
import { loadCorpus } from "../support/corpus.ts";
import { concat, ipv4, ipv6 } from "../../runtime/packets/build.ts";
import { mapUpdate, type LoadedObject } from "../../native/object.ts";
import { compileBpfC } from "./clang.ts";
import { diffObjects, formatDiff } from "./diff.ts";

const twinsDir = fileURLToPath(new URL("../twins", import.meta.url));
const filtersDir = fileURLToPath(new URL("../../filters", import.meta.url));
const twins = readdirSync(twinsDir)
  .filter((f) => f.endsWith(".c"))
  .sort();

const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const le16 = (n: number) => new Uint8Array(new Uint16Array([n]).buffer);

/** Map contents that make a twin's interesting paths reachable; keyed by twin, applied when the map exists. */
const setups: Record<string, (o: XdpObject) => void> = {
  lpm_firewall(o) {
    // Key: prefixlen (host order) then the address in network order.
    mapUpdate(o.mapFd("blocklist4"), concat(le32(32), ipv4("198.18.0.1")), le32(1));
    mapUpdate(o.mapFd("blocklist4"), concat(le32(8), ipv4("10.0.0.0")), le32(2));
    mapUpdate(o.mapFd("blocklist6"), concat(le32(32), ipv6("2001:db8::")), le32(3));
  },
  dns_policy(o) {
    mapUpdate(o.mapFd("portPolicy"), le32(80), Uint8Array.of(1)); // Deny
  },
  vlan_filter(o) {
    mapUpdate(o.mapFd("blockedPorts"), le16(443), Uint8Array.of(1));
  },
};

/** Load-time parameters (".rodata") that make rare paths common, applied only when the layout is the expected one. */
const params: Record<string, (o: LoadedObject) => void> = {
  syn_guard(o) {
    // burst 200 → 3, so the corpus' repeated SYNs exhaust a bucket; rate 100/s → 1/s, so a
    // token is earned only by a gap of a whole second. At 100/s a token came every 10 ms, and
    // the microseconds between the two sides' runs of one packet could straddle that
    // boundary on a busy machine and flip a verdict; a 1 s boundary they all but never straddle.
    const ro = o.initialValue(".rodata");
    const dv = new DataView(ro.buffer, ro.byteOffset, ro.byteLength);
    if (ro.length !== 8 || dv.getUint32(0, true) !== 100 || dv.getUint32(4, true) !== 200) return;
    dv.setUint32(0, 1, true);
    dv.setUint32(4, 3, true);
    o.setInitialValue(".rodata", ro);
  },
};

// Imported dynamically: while the compiler is under construction, a broken import
// must not take the twin runs down with it.
const driver: typeof import("../../compiler/driver/index.ts") | { reason: string } =
  await import("../../compiler/driver/index.ts").catch((e: Error) => ({
    reason: `compiler does not load: ${e.message.split("\n")[0]}`,
  }));

/**
 * The xdpc build of filters/<name>.ts, or why there is none yet. Decided when the
 * file is collected, so that a filter the compiler cannot build yet shows up as a
 * visible skip rather than a failure; once it builds, the differential test runs.
 */
function xdpcBuild(name: string): { bytes: Uint8Array } | { reason: string } {
  if ("reason" in driver) return driver;
  const path = join(filtersDir, `${name}.ts`);
  if (!existsSync(path)) return { reason: `no filters/${name}.ts` };
  try {
    const out = driver.compile(readFileSync(path, "utf8"), {
      file: `filters/${name}.ts`,
      emit: "object",
    });
    if (out.object) return { bytes: out.object };
    const err = out.diagnostics.find((d) => d.severity === "error");
    return {
      reason: err ? `xdpc reports ${err.code}: ${err.message}` : "xdpc does not emit objects yet",
    };
  } catch (e) {
    return { reason: `xdpc internal error: ${(e as Error).message.split("\n")[0]}` };
  }
}

describeKernel("C twins over the packet corpus", () => {
  checkFdLeaks("all");
  const corpus = loadCorpus();
  const packets = corpus.packets;

  it("has a corpus: the crafted packets, plus the tcpdump captures when present", () => {
    expect(corpus.stats.crafted).toBeGreaterThan(500);
    if (corpus.tcpdump) {
      expect(corpus.stats.tcpdumpPackets).toBe(7987);
      expect(corpus.stats.unreadable).toEqual([]);
    }
    expect(new Set(packets.map((p) => Buffer.from(p.data).toString("hex"))).size).toBe(
      packets.length,
    );
  });

  it("found the twins", () => {
    expect(twins.length).toBeGreaterThan(0);
  });

  for (const file of twins) {
    const name = file.replace(/\.c$/, "");
    const source = readFileSync(join(twinsDir, file), "utf8");
    const readsClock = /bpf_ktime_get(_boot|_coarse)?_ns/.test(source);

    it(`${name}: loads, and its verdicts over the corpus are not all XDP_ABORTED`, () => {
      const bytes = compileBpfC({ path: join(twinsDir, file) });
      const obj = loadXdpObject(bytes, { name: "diff", beforeLoad: params[name] });
      try {
        setups[name]?.(obj);
        const results = runXdp(
          obj.programFd(),
          packets.map((p) => p.data),
        );
        const histogram = verdictHistogram(results);
        console.log(`[twins] ${name}: ${JSON.stringify(histogram)} over ${packets.length} packets`);
        expect(Object.values(histogram).reduce((a, b) => a + b, 0)).toBe(packets.length);
        expect(Object.keys(histogram).filter((k) => k.startsWith("error:"))).toEqual([]);
        expect(histogram.XDP_ABORTED ?? 0).toBeLessThan(packets.length);
        expect(histogram.XDP_PASS ?? 0).toBeGreaterThan(0);
      } finally {
        obj.close();
      }
    });

    const xdpc = xdpcBuild(name);
    if ("bytes" in xdpc) {
      it(`${name}: the xdpc build and the clang twin agree on every packet and map`, () => {
        const clang = compileBpfC({ path: join(twinsDir, file) });
        const r = diffObjects(xdpc.bytes, clang, packets, {
          programA: name,
          programB: name,
          beforeLoad: (o) => params[name]?.(o),
          setup: (o) => setups[name]?.(o),
        });
        console.log(
          `[twins] ${name} xdpc vs clang: ${r.mismatchCount} mismatches, xdpc ${JSON.stringify(r.histogramA)}`,
        );
        expect(r.mismatchCount, formatDiff(r)).toBe(0);
        // Map contents hold timestamps in clock-reading filters; only verdicts and bytes must agree there.
        if (!readsClock) expect(r.mapMismatches, formatDiff(r)).toEqual([]);
      });
    } else {
      it.skip(`${name}: xdpc build vs clang twin [skipped: ${xdpc.reason.replace(/\s+/g, " ").slice(0, 160)}]`, () => {});
    }

    it(`${name}: two fresh loads agree on every packet and map${readsClock ? " (reads the clock: differences reported, not failed)" : ""}`, () => {
      const bytes = compileBpfC({ path: join(twinsDir, file) });
      const r = diffObjects(bytes, bytes, packets, {
        beforeLoad: (o) => params[name]?.(o),
        setup: (o) => setups[name]?.(o),
      });
      if (readsClock) {
        if (r.mismatchCount || r.mapMismatches.length)
          console.log(`[twins] ${name} is time-dependent under test:\n${formatDiff(r)}`);
        expect(r.histogramA.XDP_PASS ?? 0).toBeGreaterThan(0);
      } else {
        expect(r.mismatchCount, formatDiff(r)).toBe(0);
        expect(r.mapMismatches, formatDiff(r)).toEqual([]);
      }
    });
  }
});
