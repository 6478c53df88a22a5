// ctx.changeTail / ctx.changeHead (bpf_skb_change_tail / bpf_skb_change_head) in xdpc's
// object against the clang -O2 twin (test/tc/resize.c) under the kernel's skb test run,
// in the Wasm host against the kernel (actions, bytes, length, mark), the kernel's limits,
// and the checker's rules (views end at the call; XDP programs have adjustHead/Tail).
import { expect, it } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { describeKernel } from "../support/kernel.ts";
import { build } from "../../runtime/packets/build.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { runTc } from "../support/tc.ts";
import { clangUnavailableReason } from "../differential/clang.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { buildTc, expectTwinAgrees, expectWasmAgrees } from "./support.ts";

const RESIZE_TS = `
import { TcContext, TcAction, TC_ACT_OK, u32 } from "xdpc";
export function resize(ctx: TcContext): TcAction {
  const udp = ctx.udp();
  if (udp === null) return TC_ACT_OK;
  const port = udp.dstPort;
  const len0 = ctx.len;
  let m: u32 = 0;
  if (port === 1) {
    if (ctx.changeTail(42)) m = m | 1;
  } else if (port === 2) {
    if (ctx.changeTail(len0 + 8)) {
      m = m | 1;
      const z = ctx.load32(len0);
      if (len0 < 4096 && z !== null && z === 0) m = m | 16;
      ctx.store32(len0 + 4, 0xdeadbeef);
    }
  } else if (port === 3) {
    if (ctx.changeHead(14)) {
      m = m | 1;
      const a = ctx.load32(14);
      const b = ctx.load32(18);
      const c = ctx.load32(22);
      const d = ctx.load16(26);
      if (a !== null && b !== null && c !== null && d !== null) {
        ctx.store32(0, a);
        ctx.store32(4, b ^ 0xff0000);
        ctx.store32(8, c);
        ctx.store16(12, d);
        m = m | 2;
      }
    }
  } else if (port === 6) {
    // The checksum helpers work from the new first byte: the IP checksum is at 14 + 24.
    if (ctx.changeHead(14)) {
      m = m | 1;
      if (ctx.l3CsumReplace(38, 0, 1, 2)) m = m | 4;
    }
  } else if (port === 4) {
    if (ctx.changeTail(13)) m = m | 1;
    if (ctx.changeTail(14)) m = m | 2;
    if (ctx.changeTail(0x7fffffff)) m = m | 4;
    if (ctx.changeHead(0xfffffff0)) m = m | 8;
  }
  const ip = ctx.ipv4();
  ctx.priority = ctx.len;
  ctx.mark = m | (ip !== null ? ip.ttl << 8 : 0);
  return TC_ACT_OK;
}`;

const built = () => buildTc(RESIZE_TS, "resize.ts");

/** UDP to ports 1–6 (IPv4, VLAN-tagged, IPv6, with a payload), TCP, the corpus. */
function packets() {
  const list = [1, 2, 3, 4, 5, 6].flatMap((dport) => [
    build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport } }),
    build({ eth: { vlans: [{ vid: 7 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp", dport } }),
    build({ l3: { kind: "ipv6" }, l4: { kind: "udp", dport } }),
    build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport }, payload: new Uint8Array(300) }),
  ]);
  list.push(build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 1 } }));
  return [
    ...list.map((data, i) => ({ data, source: `crafted:${i}` })),
    ...samplePackets(loadCorpus().packets, 300, 17).filter(
      (p) => p.data.length >= 14 && p.data.length <= 3500,
    ),
  ];
}

describeKernel("ctx.changeTail / ctx.changeHead in the kernel", () => {
  const clang = clangUnavailableReason();
  it.skipIf(clang !== null)(`agree with their clang -O2 twin${clang ? ` [${clang}]` : ""}`, () =>
    expectTwinAgrees(built().object, `${import.meta.dirname}/resize.c`, packets()),
  );

  it("the Wasm host resizes the packet as the kernel does (bytes, skb->len, mark)", () => {
    const marks = new Set(expectWasmAgrees(built(), "resize", packets()).map((w) => w.mark & 0xff));
    // Trimmed, grown (new bytes zero), pushed and copied, the refusals (only the trim
    // to 14 succeeds), pushed and checksummed, untouched.
    expect([...marks].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 5, 17]);
  });
});

/** BPF_SKB_MAX_LEN (SKB_MAX_ALLOC: four pages less skb_shared_info), as measured below. */
const SKB_MAX_LEN = 16384 - 320;

const GROW_TS = `
import { TcContext, TcAction, TC_ACT_OK, TC_ACT_SHOT } from "xdpc";
export function grow(ctx: TcContext): TcAction {
  const n = ctx.load32(14);
  if (n === null) return TC_ACT_OK;
  const head = ctx.load8(18);
  if (head !== null && head === 1) return ctx.changeHead(n) ? TC_ACT_OK : TC_ACT_SHOT;
  return ctx.changeTail(n) ? TC_ACT_OK : TC_ACT_SHOT;
}`;

describeKernel("the kernel's resize limits", () => {
  it(`are BPF_SKB_MAX_LEN (${SKB_MAX_LEN} bytes) for both helpers, in the Wasm host too`, () => {
    const out = compile(GROW_TS, { file: "grow.ts", emit: "object" });
    expect(out.diagnostics.map((d) => d.message)).toEqual([]);
    const host = new WasmHost(compileToWasm(out.checked!, { only: "tc" }).binary!);
    const obj = loadXdpObject(out.object!);
    const frame = (n: number, head: boolean) => {
      const f = new Uint8Array(60);
      f.set([0x88, 0xb5], 12);
      new DataView(f.buffer).setUint32(14, head ? n - 60 : n);
      f[18] = head ? 1 : 0;
      return f;
    };
    try {
      // The kernel's and the host's verdict, length and bytes for one resize to n bytes.
      const both = (n: number, head: boolean) => {
        const k = runTc(obj.programFd("grow"), frame(n, head), undefined, { outSize: 20000 });
        const w = host.runTc("grow", frame(n, head));
        expect(Buffer.from(w.data).toString("hex"), `${n} ${head}`).toBe(
          Buffer.from(k.data).toString("hex"),
        );
        expect(w.verdict, `${n} ${head}`).toBe(k.verdict);
        return `${k.name} ${k.data.length}`;
      };
      expect(both(SKB_MAX_LEN, false)).toBe(`TC_ACT_OK ${SKB_MAX_LEN}`);
      expect(both(SKB_MAX_LEN + 1, false)).toBe("TC_ACT_SHOT 60");
      expect(both(SKB_MAX_LEN, true)).toBe(`TC_ACT_OK ${SKB_MAX_LEN}`);
      expect(both(SKB_MAX_LEN + 1, true)).toBe("TC_ACT_SHOT 60");
      // Within the host's 256 bytes of headroom and past it (the host moves the frame).
      expect(both(60 + 256, true)).toBe("TC_ACT_OK 316");
      expect(both(60 + 257, true)).toBe("TC_ACT_OK 317");
      expect(both(61, false)).toBe("TC_ACT_OK 61");
      expect(both(14, false)).toBe("TC_ACT_OK 14");
    } finally {
      obj.close();
    }
  });
});

it("checks changeTail's and changeHead's rules", () => {
  const d = (body: string, hook = "TcContext): TcAction") =>
    compile(
      `import { TcContext, TcAction, XdpContext, XdpAction, TC_ACT_OK } from "xdpc";\nexport function f(ctx: ${hook} { ${body} }`,
      { file: "r.ts", emit: "object" },
    ).diagnostics.map((x) => `${x.code}: ${x.message}`);
  expect(d("ctx.changeTail(60); ctx.changeHead(14); return TC_ACT_OK;")).toEqual([]);
  expect(d("ctx.changeTail(60); return 2;", "XdpContext): XdpAction")).toEqual([
    "2041: XdpContext has no method 'changeTail'",
  ]);
  expect(d("ctx.adjustTail(60); return TC_ACT_OK;")).toEqual([
    "2041: TcContext has no method 'adjustTail'",
  ]);
  for (const call of ["changeTail(60)", "changeHead(14)"])
    expect(
      d(`const ip = ctx.ipv4(); if (ip === null) return TC_ACT_OK; ctx.${call}; return ip.ttl;`),
    ).toEqual([expect.stringContaining(`ctx.${call.replace(/\(.*/, "")}()`)]);
});
