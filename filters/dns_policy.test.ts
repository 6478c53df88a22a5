// filters/dns_policy.ts on a few frames: a DNS query passes, a query shorter than a DNS
// header and a port set to DENY are dropped.
import { expect, it } from "vitest";
import { describeFilter } from "../test/support/filtertest.ts";
import { dnsQuery, udp4 } from "../runtime/packets/build.ts";

describeFilter("dns_policy", (f) => {
  it("a query to port 53 passes; one shorter than a DNS header is dropped", () => {
    const [ok, short] = f().run(
      udp4({ sport: 40000, dport: 53 }, {}, dnsQuery("example.com")),
      udp4({ sport: 40000, dport: 53 }, {}, new Uint8Array(4)),
    );
    expect([ok!.name, short!.name]).toEqual(["XDP_PASS", "XDP_DROP"]);
  });

  it("a port set to DENY in portPolicy is dropped", () => {
    f().map("portPolicy").set(9999, 1);
    expect(f().run(udp4({ dport: 9999 }), udp4({ dport: 9998 })).map((r) => r.name)).toEqual([
      "XDP_DROP",
      "XDP_PASS",
    ]);
  });
});
