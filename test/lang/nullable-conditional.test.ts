// Conditionals with nullable results: `c ? x : null` with x a header view, a map-value
// reference, an integer or a nullable integer is `T | null` as tsc types it (was XDP2013),
// and `c ? ctx.load8(i) : ctx.load8(j)` keeps the chosen load's value and presence (both
// arms were lowered as null). The kernel and the Wasm engine agree frame by frame.
import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { udp4, udp6 } from "../../runtime/packets/build.ts";
import { testFilter } from "../../runtime/testing/index.ts";
import { diagnose } from "./harness.ts";

const source = `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, XDP_TX, HashMap, u32 } from "xdpc";
interface V { a: u32; b: u32 }
const m = new HashMap<u32, V>({ maxEntries: 4 });
export function f(ctx: XdpContext): XdpAction {
  const e = ctx.eth();
  if (e === null) return XDP_PASS;
  const ip6 = e.proto === 0x86dd ? ctx.ipv6() : null;
  if (ip6 !== null && ip6.hopLimit === 1) return XDP_DROP;
  const ip4 = ctx.ipv4();
  const q = ip4 !== null ? ip4 : null;
  if (q !== null && q.ttl === 1) return XDP_DROP;
  const v = ip4 === null ? null : m.lookup(ip4.src);
  if (v !== null) return v.a === 7 ? XDP_TX : XDP_PASS;
  return XDP_PASS;
}
`;

const ints = `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, ArrayMap, HashMap, u8, u32, u64 } from "xdpc";
const out = new ArrayMap<u64>({ maxEntries: 4 });
const small = new HashMap<u32, u8>({ maxEntries: 4 });
export function f(ctx: XdpContext): XdpAction {
  const b = ctx.load8(0);
  if (b === null) return XDP_PASS;
  const v = b > 5 ? ctx.load8(1) : ctx.load8(200);
  out.update(0, v === null ? 0xee : v);
  const w = b === 7 ? null : b;
  out.update(1, w === null ? 0xee : w);
  const k = b > 8 ? 9 : null;
  out.update(2, k === null ? 0xee : k);
  const s = b > 5 ? small.lookup(b) : ctx.load8(2);
  if (s === null) return XDP_DROP;
  out.update(3, s);
  return XDP_PASS;
}
`;

it("types `c ? x : null` as nullable, and a mismatched pair stays an error", () => {
  expect(diagnose(source)).toEqual([]);
  expect(diagnose(ints)).toEqual([]);
  const bad = source.replace("ip4 !== null ? ip4 : null", "ip4 !== null ? ip4 : ctx.udp()");
  expect(diagnose(bad).map((d) => d.code)).toEqual([2013]);
});

describeKernel("c ? view : null on both engines", () => {
  it("gives the arm's view or null, in the kernel and in Wasm alike", async () => {
    const t = await testFilter({ source, file: "cond.ts" }, { engine: "both" });
    try {
      t.map("m").set("198.18.0.7", { a: 7, b: 0 });
      t.map("m").set("198.18.0.8", { a: 8, b: 0 });
      const frames = [
        udp6({ sport: 1, dport: 2 }, { hopLimit: 1 }), // drop: hop limit 1
        udp6({ sport: 1, dport: 2 }, { hopLimit: 9 }), // pass
        udp4({ sport: 1, dport: 2 }, { ttl: 1, src: "198.18.0.7" }), // drop: ttl before map
        udp4({ sport: 1, dport: 2 }, { src: "198.18.0.7" }), // tx: map says 7
        udp4({ sport: 1, dport: 2 }, { src: "198.18.0.8" }), // pass: map says 8
        udp4({ sport: 1, dport: 2 }, { src: "198.18.0.9" }), // pass: not in the map
      ];
      const verdicts = t.runAll(frames).map((r) => r.verdict);
      expect(verdicts).toEqual([
        "XDP_DROP",
        "XDP_PASS",
        "XDP_DROP",
        "XDP_TX",
        "XDP_PASS",
        "XDP_PASS",
      ]);
    } finally {
      t.close();
    }
  });

  it("nullable integers: the chosen arm's value and presence", async () => {
    const t = await testFilter({ source: ints, file: "ints.ts" }, { engine: "both" });
    try {
      t.map("small").set(9, 0x44);
      const frame = (b0: number, len = 64) => {
        const f = new Uint8Array(len);
        f.set([b0, 0x11, 0x22]);
        return f;
      };
      const row = () => [0, 1, 2, 3].map((i) => t.map("out").get(i));
      // b = 3: v = load8(200) is past the end → null; w = 3; k null; s = load8(2).
      expect(t.run(frame(3)).verdict).toBe("XDP_PASS");
      expect(row()).toEqual([0xeen, 3n, 0xeen, 0x22n]);
      // b = 3 in a 201-byte frame: load8(200) is present (0).
      expect(t.run(frame(3, 201)).verdict).toBe("XDP_PASS");
      expect(row()).toEqual([0n, 3n, 0xeen, 0x22n]);
      // b = 7: v = load8(1); w null; s = small[7] misses → drop, out[3] unchanged.
      expect(t.run(frame(7)).verdict).toBe("XDP_DROP");
      expect(row()).toEqual([0x11n, 0xeen, 0xeen, 0x22n]);
      // b = 9: k = 9; s = small[9] = 0x44.
      expect(t.run(frame(9)).verdict).toBe("XDP_PASS");
      expect(row()).toEqual([0x11n, 9n, 9n, 0x44n]);
    } finally {
      t.close();
    }
  });
});
