// filters/lpm_firewall.ts on a few frames: sources inside a blocklisted prefix are
// dropped and counted against their rule; others pass.
import { expect, it } from "vitest";
import { describeFilter } from "../test/support/filtertest.ts";
import { udp4 } from "../runtime/packets/build.ts";

describeFilter("lpm_firewall", (f) => {
  it("a source in a blocklisted prefix is dropped and counted; others pass", () => {
    f().map("blocklist4").set("198.19.0.0/16", 3);
    const frames = [udp4({}, { src: "198.19.7.7" }), udp4({}, { src: "198.18.7.7" })];
    expect(f().run(...frames).map((r) => r.name)).toEqual(["XDP_DROP", "XDP_PASS"]);
    expect(f().map("ruleStats").get(3)).toEqual({ packets: 1n, bytes: BigInt(frames[0]!.length) });
  });
});
