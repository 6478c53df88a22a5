// filters/syn_guard.ts on a few frames: SYNs take tokens and pass while the bucket has
// some (burst 200 by default); a SYN-ACK and plain segments are not counted.
import { expect, it } from "vitest";
import { describeFilter } from "../test/support/filtertest.ts";
import { tcp4, TCP_ACK, TCP_SYN } from "../runtime/packets/build.ts";

describeFilter("syn_guard", (f) => {
  it("SYNs pass and are counted; SYN-ACKs are not", () => {
    const r = f().run(
      tcp4({ flags: TCP_SYN }, { src: "198.18.1.1" }),
      tcp4({ flags: TCP_SYN }, { src: "198.18.1.1" }),
      tcp4({ flags: TCP_SYN | TCP_ACK }, { src: "198.18.1.1" }),
    );
    expect(r.map((x) => x.name)).toEqual(["XDP_PASS", "XDP_PASS", "XDP_PASS"]);
    expect([f().map("stats").get(0), f().map("stats").get(1)]).toEqual([2n, 0n]);
  });
});
