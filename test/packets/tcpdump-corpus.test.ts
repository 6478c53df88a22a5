// Reads every capture of ../shared/corpus/tcpdump and checks the reader against
// tcpdump itself: tcpdump-counts.txt holds, per file, the packet count and first
// timestamp that tcpdump 4.99.3 prints (see its header for the command).
import { expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describeWithPath } from "../support/kernel.ts";
import { LINKTYPE_ETHERNET, MAX_SNAPLEN, readPcap } from "../../runtime/packets/pcap.ts";

const dir = fileURLToPath(new URL("../../../shared/corpus/tcpdump", import.meta.url));

const oracle = new Map(
  readFileSync(new URL("./tcpdump-counts.txt", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const [file, count, ts] = l.split(" ");
      return [file!, { count: Number(count), ts: ts === "-" ? null : ts! }];
    }),
);

describeWithPath("tcpdump capture corpus", dir, () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".pcap"))
    .sort();

  it("has the 402 files the corpus README promises, and the oracle covers each", () => {
    expect(files.length).toBe(402);
    expect([...oracle.keys()].sort()).toEqual(files);
  });

  it("reads every file with tcpdump's packet count and first timestamp; 7,987 packets in all", () => {
    let total = 0;
    const mismatches: string[] = [];
    for (const f of files) {
      const r = readPcap(new Uint8Array(readFileSync(join(dir, f))));
      const want = oracle.get(f)!;
      total += r.packets.length;
      expect(r.linkType, f).toBe(LINKTYPE_ETHERNET);
      if (r.packets.length !== want.count)
        mismatches.push(`${f}: ${r.packets.length} != tcpdump ${want.count}`);
      const first = r.packets[0];
      if (first && want.ts !== null) {
        const us = first.ts / 1000n;
        const printed = `${us / 1_000_000n}.${(us % 1_000_000n).toString().padStart(6, "0")}`;
        if (printed !== want.ts) mismatches.push(`${f}: first ts ${printed} != tcpdump ${want.ts}`);
      }
      for (const p of r.packets) {
        expect(p.data.length).toBeLessThanOrEqual(Math.min(r.snapLen || MAX_SNAPLEN, MAX_SNAPLEN));
        expect(p.linkType).toBe(LINKTYPE_ETHERNET);
      }
    }
    expect(mismatches).toEqual([]);
    expect(total).toBe(7987);
  });

  it("captures that were cut short (origLen > captured) are kept with both lengths", () => {
    let cut = 0;
    for (const f of files) {
      for (const p of readPcap(new Uint8Array(readFileSync(join(dir, f)))).packets)
        if (p.origLen > p.data.length) cut++;
    }
    // The suite deliberately contains snaplen-truncated packets; make sure they survive.
    expect(cut).toBeGreaterThan(0);
  });
});
