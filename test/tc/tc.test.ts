// tc programs (TcContext → TcAction) in the kernel: xdpc's objects against clang -O2
// twins under BPF_PROG_TEST_RUN (BPF_PROG_TYPE_SCHED_CLS) — same verdicts, bytes, mark
// and priority, and maps — and the checker's rules for the tc hook.
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { build } from "../../runtime/packets/build.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { runTc } from "../support/tc.ts";
import { compileBpfC, clangUnavailableReason } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { TypedMap } from "../../runtime/observe/maps.ts";
import { xdpc } from "../cli/run.ts";
import { execFileSync } from "node:child_process";

const repo = new URL("../../", import.meta.url);

function buildTs(source: string, file = "tc.ts"): Uint8Array {
  const out = compile(source, { file, emit: "object" });
  expect(out.diagnostics.map((d) => d.message)).toEqual([]);
  return out.object!;
}

function diagnostics(source: string): string[] {
  return compile(source, { file: "tc.ts", emit: "object" }).diagnostics.map(
    (d) => `${d.code}: ${d.message}`,
  );
}

const crafted = [
  build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
  build({ l3: { kind: "ipv4", tos: 46 << 2 }, l4: { kind: "udp", dport: 53 } }),
  build({ l3: { kind: "ipv4", tos: 46 << 2 }, l4: { kind: "tcp", dport: 80 } }),
  build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 443 } }),
  build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 23 } }),
  build({ eth: { vlans: [{ vid: 7 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
  build({ l3: { kind: "ipv6" }, l4: { kind: "udp", dport: 53 } }),
].map((data, i) => ({ data, source: `crafted:${i}` }));

describeKernel("tc programs agree with their clang -O2 twins", () => {
  const clang = clangUnavailableReason();
  const packets = () => [
    ...crafted,
    // An skb test run takes a linear buffer of up to a page less head- and tailroom.
    ...samplePackets(loadCorpus().packets, 300, 5).filter(
      (p) => p.data.length >= 14 && p.data.length <= 3500,
    ),
  ];

  it.skipIf(clang !== null)(`filters/tc/egress_policy.ts${clang ? ` [${clang}]` : ""}`, () => {
    const ours = buildTs(
      readFileSync(new URL("filters/tc/egress_policy.ts", repo), "utf8"),
      "egress_policy.ts",
    );
    expect(readObject(ours).programs.map((p) => p.section)).toEqual(["tc"]);
    const twin = compileBpfC({ path: `${import.meta.dirname}/egress_policy.c` });
    const list = packets();
    const r = diffObjects(ours, twin, list, {
      run: (fd, data) => runTc(fd, data),
      setup: (o) => {
        // Both sides declare the same Policy layout: our object's BTF types either map.
        const m = TypedMap.fromObject(o.object, ours, "policies");
        m.set(53, { mark: 5, priority: 0, drop: 0 });
        m.set(443, { mark: 2, priority: 3, drop: 0 });
        m.set(23, { mark: 0, priority: 0, drop: 1 });
        m.close();
      },
    });
    expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
    expect(r.packets).toBe(list.length);
    // The policies reached the corpus too: not every packet took the same path. The
    // kernel's skb test run refuses frames whose IPv4/IPv6 header is cut short (EINVAL),
    // on both sides alike.
    expect(Object.keys(r.histogramA).sort()).toEqual(["TC_ACT_OK", "TC_ACT_SHOT", "error:EINVAL"]);
  });

  const fieldsTs = `
import { TcContext, TcAction, TC_ACT_UNSPEC, TC_ACT_OK, ArrayMap, u32, u64 } from "xdpc";
const seen = new ArrayMap<u64>({ maxEntries: 16 });
export function fields(ctx: TcContext): TcAction {
  seen.update(0, ctx.len);
  seen.update(1, ctx.ifindex);
  seen.update(2, ctx.ingressIfindex);
  seen.update(3, ctx.protocol);
  seen.update(4, ctx.vlanPresent);
  seen.update(5, ctx.vlanTci);
  seen.update(6, ctx.vlanProto);
  seen.update(7, ctx.pktType);
  seen.update(8, ctx.mark);
  seen.update(9, ctx.priority);
  ctx.mark = ctx.mark + 0x100;
  ctx.priority = ctx.len;
  if (ctx.protocol === 0x86dd) return TC_ACT_UNSPEC;
  const v: TcAction = ctx.len > 100 ? 3 : TC_ACT_OK;
  return v;
}`;
  const fieldsC = `
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");
static __always_inline void put(__u32 k, __u64 v) { bpf_map_update_elem(&seen, &k, &v, BPF_ANY); }
SEC("tc") int fields(struct __sk_buff *ctx) {
  put(0, ctx->len); put(1, ctx->ifindex); put(2, ctx->ingress_ifindex);
  put(3, bpf_ntohs(ctx->protocol)); put(4, ctx->vlan_present); put(5, ctx->vlan_tci);
  put(6, bpf_ntohs(ctx->vlan_proto)); put(7, ctx->pkt_type); put(8, ctx->mark); put(9, ctx->priority);
  ctx->mark = ctx->mark + 0x100;
  ctx->priority = ctx->len;
  if (ctx->protocol == bpf_htons(0x86dd)) return TC_ACT_UNSPEC;
  return ctx->len > 100 ? 3 : TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";`;

  it.skipIf(clang !== null)("context fields read and written as the C twin does", () => {
    const ours = buildTs(fieldsTs);
    const twin = compileBpfC({ source: fieldsC, name: "fields" });
    const list = packets();
    const r = diffObjects(ours, twin, list, { run: (fd, data) => runTc(fd, data) });
    expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
    expect(r.histogramA["TC_ACT_UNSPEC"]).toBeGreaterThan(0);
    expect(r.histogramA["TC_ACT_PIPE"]).toBeGreaterThan(0);
  });

  it("reads the context the kernel gives it: protocol, lo's ifindex, length; writes mark", () => {
    const bytes = buildTs(fieldsTs);
    const o: XdpObject = loadXdpObject(bytes, { name: "tcfields" });
    try {
      const frame = build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } });
      const r = runTc(o.programFd(), frame, { mark: 7 });
      const seen = TypedMap.fromObject(o.object, bytes, "seen");
      try {
        expect([0, 1, 3, 8].map((i) => seen.get(i))).toEqual([
          BigInt(frame.length),
          1n, // BPF_PROG_TEST_RUN puts the skb on the loopback device
          0x0800n,
          7n,
        ]);
      } finally {
        seen.close();
      }
      const v = new DataView(r.ctx!.buffer);
      expect([r.name, v.getUint32(0, true), v.getUint32(4, true)]).toEqual([
        "TC_ACT_OK",
        0x107,
        frame.length,
      ]);
    } finally {
      o.close();
    }
  });
});

it("xdpc build writes a tc object; xdpc load without --tc refuses it in one line, attaching nothing", () => {
  const b = xdpc(["build", "filters/tc/egress_policy.ts", "-o", "/tmp/xdpc-tc-test.o"]);
  expect(b.status, b.stderr).toBe(0);
  const l = xdpc(["load", "--iface", "lo", "/tmp/xdpc-tc-test.o"]);
  expect([l.status, l.stderr.trim().split("\n").length]).toEqual([2, 1]);
  expect(l.stderr).toContain(
    "holds tc programs only (egress_policy); attach one with --tc ingress|egress",
  );
});

describeKernel("iproute2 attaches xdpc's tc object", () => {
  const ns = "xdpc-tc-a";
  const sh = (cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
  const inNs = (cmd: string[]) => sh(["nsenter", `--net=/run/netns/${ns}`, ...cmd]);
  it("tc filter add … bpf da obj FILE.o sec tc, on a veth's clsact egress", () => {
    const b = xdpc(["build", "filters/tc/egress_policy.ts", "-o", "/tmp/xdpc-tc-attach.o"]);
    expect(b.status, b.stderr).toBe(0);
    sh(["ip", "netns", "add", ns]);
    try {
      inNs(["ip", "link", "add", "xdpctc0", "type", "veth", "peer", "name", "xdpctc1"]);
      inNs(["tc", "qdisc", "add", "dev", "xdpctc0", "clsact"]);
      // iproute2 makes its own bpffs tree (/sys/fs/bpf/{tc,ip,xdp}): give it a private one.
      const add = "tc filter add dev xdpctc0 egress bpf da obj /tmp/xdpc-tc-attach.o sec tc";
      inNs([
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount -t bpf bpf /sys/fs/bpf && ${add}`,
      ]);
      const shown = inNs(["tc", "filter", "show", "dev", "xdpctc0", "egress"]);
      expect(shown).toMatch(/bpf .*direct-action/);
      expect(shown).toContain("egress_policy");
    } finally {
      sh(["ip", "netns", "del", ns]);
    }
  });
});

it("checks the tc hook's rules", () => {
  const head = `import { TcContext, TcAction, XdpAction, TC_ACT_OK, XDP_PASS, u32 } from "xdpc";\n`;
  const fn = (ret: string, body: string) =>
    diagnostics(`${head}export function f(ctx: TcContext): ${ret} { ${body} }`);
  expect(fn("TcAction", "ctx.adjustHead(4); return TC_ACT_OK;")).toEqual([
    "2041: TcContext has no method 'adjustHead'",
  ]);
  expect(fn("TcAction", "ctx.len = 4; return TC_ACT_OK;")).toEqual(["2023: 'len' is read-only"]);
  expect(fn("TcAction", "return XDP_PASS;")).toEqual([
    "2013: type XdpAction is not assignable to TcAction",
  ]);
  expect(fn("TcAction", "return 8;")).toEqual(["2015: constant 8 does not fit TcAction"]);
  expect(fn("XdpAction", "return XDP_PASS;")).toEqual([
    expect.stringContaining("a tc program '(ctx: TcContext): TcAction'"),
  ]);
  expect(fn("TcAction", "const r: u32 = ctx.rxQueue; return TC_ACT_OK;")).toEqual([
    "2022: type TcContext has no field 'rxQueue'",
  ]);
  // TcAction is an i32: TC_ACT_UNSPEC is -1, and ordering is signed.
  expect(
    fn("TcAction", "const a: TcAction = TC_ACT_OK; if (a < 0) return -1; return a - 1;"),
  ).toEqual([]);
});
