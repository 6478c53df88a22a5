import { it } from "vitest";
import { loadCorpus, samplePackets } from "./test/support/corpus.ts";
import { loadXdpObject } from "./test/support/xdp.ts";
import { runTc } from "./test/support/tc.ts";
import { readFileSync } from "node:fs";
it("dbg", () => {
  const o = loadXdpObject(new Uint8Array(readFileSync("/tmp/tc/ep.o")), { name: "dbg" });
  const ps = samplePackets(loadCorpus().packets, 300, 5).filter((p) => p.data.length >= 14 && p.data.length <= 3500);
  for (const p of ps) { const r = runTc(o.programFd(), p.data); if (r.error) console.log(p.data.length, p.source, r.error, Buffer.from(p.data.subarray(0,20)).toString("hex")); }
  o.close();
});
