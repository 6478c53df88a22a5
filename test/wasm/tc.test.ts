// Differential: tc programs (TcContext → TcAction) compiled to WebAssembly and run by
// the JS host (WasmHost.runTc) against the eBPF object of the same source run by the
// kernel (BPF_PROG_TEST_RUN, BPF_PROG_TYPE_SCHED_CLS, test/support/tc.ts): over the
// corpus and crafted frames, with mark and priority given in, the same verdicts,
// bytes, mark and priority out, the same refusals, and the same maps afterwards.
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { skbTestRunRefusal } from "../../runtime/testing/engines.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus } from "../support/corpus.ts";
import { build, fromHex, hex } from "../../runtime/packets/build.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { runTc, tcVerdictName } from "../support/tc.ts";
import { TypedMap } from "../../runtime/observe/maps.ts";
import { DUMPABLE, kernelVsHostDiffs, onOneCpu } from "./support.ts";
import { dumpMap } from "../differential/diff.ts";

const repo = new URL("../../", import.meta.url);

function buildBoth(source: string, file: string) {
  const out = compile(source, { file, emit: "object" });
  if (!out.object || !out.checked)
    throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  const wasm = compileToWasm(out.checked, { only: "tc" });
  if (!wasm.binary) throw new Error(wasm.diagnostics.map((d) => d.message).join("\n"));
  expect(wasm.meta!.functions.map((f) => f.kind)).toEqual(["tc"]);
  return { object: out.object, wasm: wasm.binary, program: wasm.meta!.functions[0]!.name };
}

const crafted = [
  build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
  build({ l3: { kind: "ipv4", tos: 46 << 2 }, l4: { kind: "udp", dport: 53 } }),
  build({ l3: { kind: "ipv4", tos: 46 << 2 }, l4: { kind: "tcp", dport: 80 } }),
  build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 443 } }),
  build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 23 } }),
  build({ eth: { vlans: [{ vid: 7 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
  build({ l3: { kind: "ipv6" }, l4: { kind: "udp", dport: 53 } }),
  build({ eth: { dst: "ff:ff:ff:ff:ff:ff" }, l3: { kind: "ipv4" }, l4: { kind: "udp" } }),
  build({ eth: { dst: "01:00:5e:00:00:01" }, l3: { kind: "ipv4" }, l4: { kind: "udp" } }),
  build({ eth: { dst: "00:00:00:00:00:00" }, l3: { kind: "ipv4" }, l4: { kind: "udp" } }),
].map((data, i) => ({ data, source: `crafted:${i}` }));

const fieldsTs = `
import { TcContext, TcAction, TC_ACT_UNSPEC, TC_ACT_OK, TC_ACT_SHOT, ArrayMap, HashMap, redirect, u32, u64 } from "xdpc";
const seen = new ArrayMap<u64>({ maxEntries: 16 });
const byLen = new HashMap<u32, u64>({ maxEntries: 4096 });
function add(k: u32, v: u64): void {
  const c = seen.lookup(k);
  if (c !== null) seen.update(k, c + v);
}
export function fields(ctx: TcContext): TcAction {
  add(0, ctx.len);
  seen.update(1, ctx.ifindex);
  seen.update(2, ctx.ingressIfindex);
  add(3, ctx.protocol);
  seen.update(4, ctx.vlanPresent);
  seen.update(5, ctx.vlanTci);
  seen.update(6, ctx.vlanProto);
  add(7, ctx.pktType * 1000 + 1);
  add(8, ctx.mark);
  add(9, ctx.priority);
  seen.update(10, ctx.hash);
  const n = byLen.lookup(ctx.len);
  byLen.update(ctx.len, n === null ? 1 : n + 1);
  ctx.mark = ctx.mark + 0x100;
  ctx.priority = ctx.len + ctx.pktType;
  if (ctx.protocol === 0x86dd) return TC_ACT_UNSPEC;
  if (ctx.pktType === 2) return redirect(7);
  if (ctx.len % 7 === 0) return TC_ACT_SHOT;
  const v: TcAction = ctx.len > 100 ? 3 : TC_ACT_OK;
  return v;
}`;

// Header writes, checked stores and the checksum helpers at tc.
const rewriteTs = `
import { TcContext, TcAction, TC_ACT_OK, TC_ACT_SHOT, u16, u32 } from "xdpc";
export function rewrite(ctx: TcContext): TcAction {
  const eth = ctx.eth();
  if (eth === null) return TC_ACT_SHOT;
  const ip = ctx.ipv4();
  if (ip === null) {
    if (!ctx.store8(14, 0x42)) return TC_ACT_SHOT;
    return TC_ACT_OK;
  }
  if (ip.ttl <= 1) return TC_ACT_SHOT;
  ip.ttl = ip.ttl - 1;
  ip.tos = (ip.tos & 3) | (10 << 2);
  ctx.mark = ip.ttl;
  const udp = ctx.udp();
  if (udp !== null) {
    udp.srcPort = udp.dstPort;
    ctx.priority = udp.dstPort;
  }
  const c = ctx.csum(14, 20, 0);
  if (c !== null) ctx.priority = ctx.priority + c;
  return TC_ACT_OK;
}`;

function packets() {
  return [
    ...crafted,
    // An skb test run takes a linear buffer of up to a page less head- and tailroom.
    ...loadCorpus().packets.filter((p) => p.data.length >= 14 && p.data.length <= 3500),
  ];
}

describeKernel("tc programs: Wasm agrees with the kernel", () => {
  const cases: {
    name: string;
    source: () => string;
    setup?: (set: (map: string, key: number, value: object) => void) => void;
    verdicts: string[];
  }[] = [
    {
      name: "filters/tc/egress_policy.ts",
      source: () => readFileSync(new URL("filters/tc/egress_policy.ts", repo), "utf8"),
      setup: (set) => {
        set("policies", 53, { mark: 5, priority: 0, drop: 0 });
        set("policies", 443, { mark: 2, priority: 3, drop: 0 });
        set("policies", 23, { mark: 0, priority: 0, drop: 1 });
      },
      verdicts: ["TC_ACT_OK", "TC_ACT_SHOT", "error:EINVAL"],
    },
    {
      name: "context fields (every __sk_buff field read, mark/priority written, redirect)",
      source: () => fieldsTs,
      verdicts: [
        "TC_ACT_OK",
        "TC_ACT_PIPE",
        "TC_ACT_REDIRECT",
        "TC_ACT_SHOT",
        "TC_ACT_UNSPEC",
        "error:EINVAL",
      ],
    },
    {
      name: "header writes, checked stores, csum",
      source: () => rewriteTs,
      verdicts: ["TC_ACT_OK", "TC_ACT_SHOT", "error:EINVAL"],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const source = c.source();
      const built = buildBoth(source, "tc.ts");
      const host = new WasmHost(built.wasm);
      const obj = loadXdpObject(built.object, { name: "wtc" });
      try {
        c.setup?.((map, key, value) => {
          const m = TypedMap.fromObject(obj.object, built.object, map);
          m.set(key, value as never);
          m.close();
        });
        // Copy what the setup put into the kernel's maps into the host's.
        for (const m of host.mapNames()) {
          const info = obj.object.map(m);
          if (!DUMPABLE.has(info.type)) continue;
          for (const [k, v] of dumpMap(info.fd, info.type, info.keySize, info.valueSize))
            expect(host.map(m).update(fromHex(k), fromHex(v), 0), `fill ${m}[${k}]`).toBe(0);
        }
        const fd = obj.programFd();
        const mismatches: string[] = [];
        const histogram: Record<string, number> = {};
        const list = packets();
        onOneCpu(() => {
          list.forEach((p, i) => {
            const ctx = { mark: i % 3 === 0 ? 0 : i, priority: i % 5 };
            const k = runTc(fd, p.data, ctx);
            histogram[k.name] = (histogram[k.name] ?? 0) + 1;
            const refused = skbTestRunRefusal(p.data);
            let w: string;
            if (refused !== null) w = `error:${refused}`;
            else {
              const r = host.runTc(built.program, p.data, ctx);
              const out = new Uint8Array(8);
              new DataView(out.buffer).setUint32(0, r.mark, true);
              new DataView(out.buffer).setUint32(4, r.priority, true);
              w = `${tcVerdictName(r.verdict)} ${hex(r.data)} ${hex(out)}`;
            }
            const kk = k.name.startsWith("error:")
              ? k.name
              : `${k.name} ${hex(k.data)} ${hex(k.ctx!)}`;
            if (kk !== w) mismatches.push(`${p.source}:\n  kernel ${kk}\n  wasm   ${w}`);
          });
        });
        expect(mismatches.slice(0, 5).join("\n"), `${mismatches.length} mismatches`).toBe("");
        expect(kernelVsHostDiffs(obj, host).slice(0, 10).join("\n")).toBe("");
        expect(Object.values(histogram).reduce((a, b) => a + b, 0)).toBe(list.length);
        expect(Object.keys(histogram).sort()).toEqual(c.verdicts);
      } finally {
        obj.close();
      }
    });
});
