// Differential: every example filter compiled by xdpc against its C twin compiled by
// clang -O2, over the crafted packet corpus, with empty maps and default parameters:
// verdicts, output bytes and final map contents must be identical.
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { craftedCorpus } from "../support/packets.ts";
import { clangUnavailableReason, compileBpfC } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { build } from "./harness.ts";
import { mapUpdate } from "../../native/object.ts";
import type { XdpObject } from "../support/xdp.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);
/** Map contents that make the corpus hit the filters' lookup paths (same on both sides). */
const setups: Record<string, (o: XdpObject) => void> = {
  lpm_firewall: (o) => {
    // Keys: prefixlen (LE), then the address in network order.
    mapUpdate(o.mapFd("blocklist4"), bytes(24, 0, 0, 0, 198, 18, 7, 0), bytes(7, 0, 0, 0));
    mapUpdate(o.mapFd("blocklist4"), bytes(32, 0, 0, 0, 198, 18, 0, 1), bytes(5, 0, 0, 0));
    mapUpdate(o.mapFd("blocklist6"), bytes(32, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)), bytes(3, 0, 0, 0));
  },
  dns_policy: (o) => {
    mapUpdate(o.mapFd("portPolicy"), bytes(25, 0, 0, 0), bytes(1));
    mapUpdate(o.mapFd("portPolicy"), bytes(53, 0, 0, 0), bytes(2));
  },
  vlan_filter: (o) => {
    mapUpdate(o.mapFd("blockedPorts"), bytes(23, 0), bytes(1));
    mapUpdate(o.mapFd("blockedPorts"), bytes(80, 0), bytes(1));
  },
};

const repo = resolve(import.meta.dirname, "../..");
const FILTERS = ["lpm_firewall", "vlan_filter", "syn_guard", "dns_policy", "icmp_echo", "tcp_events"];

describeKernel("xdpc output agrees with clang -O2 on the C twins", () => {
  const corpus = craftedCorpus({ minLength: 14 }).map((p) => ({ data: p.data, source: p.name }));
  for (const name of FILTERS) {
    it.skipIf(clangUnavailableReason() !== null)(name, () => {
      const file = resolve(repo, `filters/${name}.ts`);
      const ours = build(readFileSync(file, "utf8"), file).object;
      const theirs = compileBpfC({ path: resolve(repo, `test/twins/${name}.c`) });
      // syn_guard's buckets hold bpf_ktime_get_ns() stamps, which differ between the sides.
      const r = diffObjects(ours, theirs, corpus, {
        compareMaps: name !== "syn_guard",
        setup: setups[name],
        // syn_guard: rate 1/s, burst 2, so the corpus' SYNs run out of tokens.
        beforeLoad: name === "syn_guard" ? (o) => o.setInitialValue(o.mapNames().find((m) => m.endsWith(".rodata"))!, bytes(1, 0, 0, 0, 2, 0, 0, 0)) : undefined,
      });
      expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
      expect(r.packets).toBeGreaterThan(50);
      // The corpus must exercise more than one outcome, or the comparison proves little.
      // (tcp_events always passes; its output is ring-buffer records.)
      if (name !== "tcp_events") expect(Object.keys(r.histogramA).length, JSON.stringify(r.histogramA)).toBeGreaterThan(1);
    });
  }
});
