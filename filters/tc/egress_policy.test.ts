// filters/tc/egress_policy.ts on a few packets: a policy marks (and prioritises) by
// destination port or drops, DSCP EF gets efPriority, everything else leaves unchanged.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../../test/support/kernel.ts";
import { buildFilter } from "../../test/support/filtertest.ts";
import { build } from "../../runtime/packets/build.ts";
import { loadXdpObject, type XdpObject } from "../../test/support/xdp.ts";
import { runTc } from "../../test/support/tc.ts";
import { TypedMap } from "../../runtime/observe/maps.ts";

const udp = (dport: number, tos = 0) =>
  build({ l3: { kind: "ipv4", tos }, l4: { kind: "udp", dport } });
const tcp = (dport: number) => build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport } });
const markPrio = (ctx: Uint8Array) => {
  const v = new DataView(ctx.buffer, ctx.byteOffset);
  return [v.getUint32(0, true), v.getUint32(4, true)];
};

describeKernel("filters/tc/egress_policy.ts", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  const maps: TypedMap[] = [];
  const map = (name: string) => {
    const m = TypedMap.fromObject(obj.object, bytes, name);
    maps.push(m);
    return m;
  };
  beforeAll(() => {
    bytes = buildFilter("tc/egress_policy");
    obj = loadXdpObject(bytes, { name: "egress_policy" });
  });
  afterAll(() => {
    for (const m of maps) m.close();
    obj?.close();
  });

  it("marks by port, drops by policy, prioritises DSCP EF, counts per mark", () => {
    map("policies").set(53, { mark: 5, priority: 0, drop: 0 });
    map("policies").set(443, { mark: 2, priority: 3, drop: 0 });
    map("policies").set(23, { mark: 0, priority: 0, drop: 1 });
    const fd = obj.programFd();
    const runs = [udp(53), tcp(443), tcp(23), udp(9999), udp(9999, 46 << 2), udp(53, 46 << 2)];
    const r = runs.map((p) => runTc(fd, p));
    expect(r.map((x) => x.name)).toEqual([
      "TC_ACT_OK",
      "TC_ACT_OK",
      "TC_ACT_SHOT",
      "TC_ACT_OK",
      "TC_ACT_OK",
      "TC_ACT_OK",
    ]);
    expect(r.map((x) => markPrio(x.ctx!))).toEqual([
      [5, 0],
      [2, 3],
      [0, 0],
      [0, 0],
      [0, 6],
      [5, 6],
    ]);
    expect(r.map((x, i) => Buffer.from(x.data).equals(runs[i]!))).toEqual(runs.map(() => true));
    expect(map("perMark").get(5)).toBe(2n);
    expect(map("perMark").get(2)).toBe(1n);
  });
});
