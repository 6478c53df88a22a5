// filters/vlan_filter.ts on a few frames (vid 100, untagged allowed, by default): VLAN
// 100 and untagged frames pass, another VLAN is dropped, a blocked port is dropped.
import { expect, it } from "vitest";
import { describeFilter } from "../test/support/filtertest.ts";
import { build } from "../runtime/packets/build.ts";

const udp = (dport: number, vid?: number) =>
  build({
    eth: vid === undefined ? {} : { vlans: [{ vid }] },
    l3: { kind: "ipv4" },
    l4: { kind: "udp", dport },
  });

describeFilter("vlan_filter", (f) => {
  it("admits VLAN 100 and untagged frames, drops other VLANs and blocked ports", () => {
    f().map("blockedPorts").set(23, 1);
    const r = f().run(udp(53, 100), udp(53), udp(53, 7), udp(23, 100));
    expect(r.map((x) => x.name)).toEqual(["XDP_PASS", "XDP_PASS", "XDP_DROP", "XDP_DROP"]);
  });
});
