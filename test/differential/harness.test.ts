// The differential harness must see every kind of difference (verdict, output bytes,
// final map contents) and none where there is none.
import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { checkFdLeaks } from "../support/xdp.ts";
import { tcp4, udp4, udp6 } from "../../runtime/packets/build.ts";
import { craftedCorpus } from "../support/crafted.ts";
import { mapUpdate } from "../../native/object.ts";
import { compileBpfC } from "./clang.ts";
import { diffObjects, formatDiff } from "./diff.ts";

const prog = (body: string, maps = "") => `
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
${maps}
SEC("xdp")
int prog(struct xdp_md *ctx) {
  unsigned char *d = (void *)(long)ctx->data;
  unsigned char *end = (void *)(long)ctx->data_end;
  ${body}
}
char LICENSE[] SEC("license") = "GPL";
`;

/** Drops IPv4 UDP (EtherType 0x0800 at 12, protocol 17 at 23), passes the rest. */
const DROP_UDP4 = prog(`
  if (d + 24 > end) return XDP_PASS;
  if (d[12] == 0x08 && d[13] == 0x00 && d[23] == 17) return XDP_DROP;
  return XDP_PASS;`);
const PASS_ALL = prog(`return XDP_PASS;`);
const COUNTERS = `
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } bylen SEC(".maps");
`;
const count = (filter: string) =>
  prog(
    `__u32 k = 0; __u32 len = end - d;
  if (${filter}) {
    __u64 *c = bpf_map_lookup_elem(&counts, &k); if (c) *c += 1;
    __u64 one = 1, *v = bpf_map_lookup_elem(&bylen, &len);
    if (v) *v += 1; else bpf_map_update_elem(&bylen, &len, &one, BPF_ANY);
  }
  return XDP_PASS;`,
    COUNTERS,
  );

describeKernel("differential harness", () => {
  checkFdLeaks("all");
  const corpus = craftedCorpus().map((p) => ({ data: p.data, source: `crafted:${p.name}` }));
  const isUdp4 = (p: Uint8Array) =>
    p.length >= 24 && p[12] === 0x08 && p[13] === 0x00 && p[23] === 17;

  it("finds no mismatch between identical programs", () => {
    const bytes = compileBpfC({ source: DROP_UDP4 });
    const r = diffObjects(bytes, bytes, corpus);
    expect(r.mismatchCount, formatDiff(r)).toBe(0);
    expect(r.mapMismatches).toEqual([]);
    expect(r.histogramA).toEqual(r.histogramB);
    expect(r.histogramA.XDP_DROP).toBe(corpus.filter((p) => isUdp4(p.data)).length);
  });

  it("finds no mismatch between different builds of the same program (-O2 vs -O1)", () => {
    const r = diffObjects(
      compileBpfC({ source: DROP_UDP4 }),
      compileBpfC({ source: DROP_UDP4 }, ["-O1"]),
      corpus,
    );
    expect(r.mismatchCount, formatDiff(r)).toBe(0);
  });

  it("reports every packet whose verdict differs, with its index, source and bytes", () => {
    const r = diffObjects(
      compileBpfC({ source: PASS_ALL }),
      compileBpfC({ source: DROP_UDP4 }),
      corpus,
      { maxMismatches: 3 },
    );
    const expected = corpus.map((p, i) => (isUdp4(p.data) ? i : -1)).filter((i) => i >= 0);
    expect(expected.length).toBeGreaterThan(50);
    expect(r.mismatchCount).toBe(expected.length);
    expect(r.mismatches.length).toBe(3);
    const m = r.mismatches[0]!;
    expect(m).toMatchObject({
      index: expected[0],
      what: "verdict",
      a: { verdict: "XDP_PASS" },
      b: { verdict: "XDP_DROP" },
    });
    expect(m.source).toBe(corpus[expected[0]!]!.source);
    expect(m.packet).toBe(Buffer.from(corpus[expected[0]!]!.data).toString("hex"));
    expect(formatDiff(r)).toContain(
      `#${expected[0]} (${m.source}): verdict: A XDP_PASS vs B XDP_DROP`,
    );
  });

  it("reports output bytes that differ under the same verdict", () => {
    const ttl = prog(
      `if (d + 23 > end) return XDP_PASS; if (d[12] == 0x08) d[22] -= 1; return XDP_PASS;`,
    );
    const r = diffObjects(compileBpfC({ source: PASS_ALL }), compileBpfC({ source: ttl }), [
      udp6(),
      udp4(),
      tcp4(),
    ]);
    expect(r.mismatchCount).toBe(2);
    expect(r.mismatches.map((m) => [m.index, m.what])).toEqual([
      [1, "data"],
      [2, "data"],
    ]);
    expect(r.mismatches[0]!.b.data.slice(44, 46)).toBe("3f"); // TTL 64 → 63
  });

  it("reports final map contents that differ while every verdict agrees (per-CPU values summed)", () => {
    const all = compileBpfC({ source: count("1") });
    const onlyUdp = compileBpfC({ source: count("d + 24 <= end && d[23] == 17") });
    const pkts = [udp4(), tcp4(), udp4(), tcp4(), tcp4()];
    const same = diffObjects(all, all, pkts);
    expect(same.mapMismatches).toEqual([]);
    const r = diffObjects(all, onlyUdp, pkts);
    expect(r.mismatchCount).toBe(0);
    const u64 = (n: number) => Buffer.from(new BigUint64Array([BigInt(n)]).buffer).toString("hex");
    expect(r.mapMismatches).toContain(`counts[00000000]: A ${u64(5)} vs B ${u64(2)}`);
    const tcpLen = Buffer.from(new Uint32Array([tcp4().length]).buffer).toString("hex");
    expect(r.mapMismatches).toContain(`bylen[${tcpLen}]: A ${u64(3)} vs B (absent)`);
  });

  it("applies a map setup to both sides before the first packet", () => {
    const byPort = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); } deny SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) {
  unsigned char *d = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (d + 38 > end) return XDP_PASS;
  __u32 port = (d[36] << 8) | d[37];
  return bpf_map_lookup_elem(&deny, &port) ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";`;
    const bytes = compileBpfC({ source: byPort });
    const pkts = [udp4({ dport: 53 }), udp4({ dport: 80 })];
    const r = diffObjects(bytes, bytes, pkts, {
      setup: (o, side) => {
        if (side === "b") {
          mapUpdate(
            o.mapFd("deny"),
            new Uint8Array(new Uint32Array([53]).buffer),
            new Uint8Array(4),
          );
        }
      },
    });
    expect(r.mismatches.map((m) => [m.index, m.a.verdict, m.b.verdict])).toEqual([
      [0, "XDP_PASS", "XDP_DROP"],
    ]);
    expect(r.mapMismatches.length).toBe(1);
  });
});
