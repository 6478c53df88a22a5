// The demo judges its counters only after they settle, and names what is missing per rule.
// Pure: the counters come from a fake reader, so no kernel and no timing is involved.
import { describe, expect, it } from "vitest";
import { accountingGaps, settledCounters, type Counters } from "../../runtime/lab/demo.ts";

const at = (passed: number, r1: number, r2: number): Counters => ({
  passed,
  dropped: r1 + r2,
  perRule: [r1, r2],
});

describe("demo accounting", () => {
  it("keeps reading while frames are still being counted, and stops once all are", async () => {
    // The last frames land over three more reads (queued in the veth when the generator returned).
    const reads = [at(90, 180, 180), at(95, 190, 190), at(99, 199, 200), at(100, 200, 200)];
    let n = 0;
    const c = await settledCounters(() => reads[Math.min(n++, reads.length - 1)]!, 500, {
      everyMs: 1,
    });
    expect(c).toEqual(at(100, 200, 200));
    expect(n).toBe(4); // no read after the count was reached
  });

  it("gives up after the counters stop moving, and the gaps say what is missing per rule", async () => {
    let n = 0;
    const stuck = at(100, 190, 200);
    const c = await settledCounters(() => (n++, stuck), 500, { everyMs: 1, quietReads: 5 });
    expect(n).toBe(6); // the first read and five unchanged ones
    expect(accountingGaps(c, 100, [200, 200], 500)).toEqual([
      "rule 1 198.19.66.0/24 (botnet A: SYN flood): 190 counted, 200 sent (10 missing)",
      "all verdicts: 490 counted, 500 sent (10 missing)",
    ]);
  });

  it("gives up at the bound even while counters still move", async () => {
    let n = 0;
    const c = await settledCounters(() => at(n++, 0, 0), 1_000_000, { everyMs: 1, maxMs: 20 });
    expect(c.passed).toBeLessThan(1_000_000);
    expect(accountingGaps(c, 1_000_000, [0, 0], 1_000_000)[0]).toMatch(
      /^passed \(legit traffic\): [\d,]+ counted, 1,000,000 sent \([\d,]+ missing\)$/,
    );
  });

  it("reports extra counts as well as missing ones, and nothing when all add up", () => {
    expect(accountingGaps(at(101, 200, 200), 100, [200, 200], 500)).toEqual([
      "passed (legit traffic): 101 counted, 100 sent (1 extra)",
      "all verdicts: 501 counted, 500 sent (1 extra)",
    ]);
    expect(accountingGaps(at(100, 200, 200), 100, [200, 200], 500)).toEqual([]);
  });
});
