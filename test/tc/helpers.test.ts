// The tc redirect helpers — redirect(ifindex, { ingress }), redirectNeigh, redirectPeer —
// in xdpc's object against the clang -O2 twin (test/tc/redirects.c) under the kernel's
// skb test run, in the Wasm host against the kernel (same actions, bytes, mark, and the
// redirect target the host records), and the checker's rules for them.
import { expect, it } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { describeKernel } from "../support/kernel.ts";
import { build } from "../../runtime/packets/build.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { runTc } from "../support/tc.ts";
import { compileBpfC, clangUnavailableReason } from "../differential/clang.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { SKB_TEST_MAX, skbTestRunRefusal } from "../../runtime/testing/engines.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";

const REDIRECTS_TS = `
import { TcContext, TcAction, TC_ACT_OK, redirect, redirectNeigh, redirectPeer, u32 } from "xdpc";
export function redirects(ctx: TcContext): TcAction {
  const udp = ctx.udp();
  if (udp === null) return TC_ACT_OK;
  const dev: u32 = udp.srcPort;
  switch (udp.dstPort) {
    case 1: return redirect(dev);
    case 2: return redirect(dev, { ingress: true });
    case 3: return redirectNeigh(dev);
    case 4: return redirectPeer(dev);
  }
  ctx.mark = dev;
  return TC_ACT_OK;
}`;

const CSUM_NAT_TS = `
import { TcContext, TcAction, TC_ACT_OK, TC_ACT_SHOT, u16, u32 } from "xdpc";
const NEW_DST: u32 = 0xc6122e63; // 198.18.46.99
export function csum_nat(ctx: TcContext): TcAction {
  const ip = ctx.ipv4(0);
  if (ip === null || ip.ihl !== 5) return TC_ACT_OK;
  const proto = ip.protocol;
  const first = ip.fragmentOffset === 0;
  const oldDst = ip.dst;
  const oldWord: u16 = (ip.ttl << 8) | proto;
  ip.dst = NEW_DST;
  ip.ttl = ip.ttl - 1;
  const newWord: u16 = (ip.ttl << 8) | proto;
  if (!ctx.l3CsumReplace(24, oldDst, NEW_DST, 4)) return TC_ACT_SHOT;
  if (!ctx.l3CsumReplace(24, oldWord, newWord, 2)) return TC_ACT_SHOT;
  if (proto === 17 && first) {
    const p = ctx.load16(36);
    if (p === null || ctx.len < 42) return TC_ACT_OK;
    ctx.store16(36, 8080);
    if (!ctx.l4CsumReplace(40, oldDst, NEW_DST, 4, { pseudoHeader: true, mangledZero: true })) return TC_ACT_SHOT;
    if (!ctx.l4CsumReplace(40, p, 8080, 2, { mangledZero: true })) return TC_ACT_SHOT;
  } else if (proto === 6 && first) {
    const p = ctx.load16(36);
    if (p === null || ctx.len < 54) return TC_ACT_OK;
    ctx.store16(36, 8080);
    if (!ctx.l4CsumReplace(50, oldDst, NEW_DST, 4, { pseudoHeader: true })) return TC_ACT_SHOT;
    if (!ctx.l4CsumReplace(50, p, 8080, 2)) return TC_ACT_SHOT;
  }
  let m: u32 = 0;
  if (ctx.l3CsumReplace(ctx.len, 0, 1, 2)) m = m | 1;
  if (ctx.l3CsumReplace(25, 0, 1, 2)) m = m | 2;
  if (ctx.l4CsumReplace(26, 0, 1, 2)) m = m | 4;
  ctx.mark = m;
  return TC_ACT_OK;
}`;

const frames = [1, 2, 3, 4, 5].flatMap((dport) =>
  [3, 70000 % 65536, 1].map((sport) =>
    build({ l3: { kind: "ipv4" }, l4: { kind: "udp", sport, dport } }),
  ),
);
frames.push(build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 1 } }));
const packets = frames.map((data, i) => ({ data, source: `crafted:${i}` }));

function built() {
  const out = compile(REDIRECTS_TS, { file: "redirects.ts", emit: "object" });
  expect(out.diagnostics.map((d) => d.message)).toEqual([]);
  const wasm = compileToWasm(out.checked!, { only: "tc" });
  expect(wasm.diagnostics.map((d) => d.message)).toEqual([]);
  return { object: out.object!, wasm: wasm.binary! };
}

describeKernel("tc redirect helpers in the kernel", () => {
  const clang = clangUnavailableReason();
  it.skipIf(clang !== null)(`agree with their clang -O2 twin${clang ? ` [${clang}]` : ""}`, () => {
    const twin = compileBpfC({ path: `${import.meta.dirname}/redirects.c` });
    const r = diffObjects(built().object, twin, packets, { run: (fd, data) => runTc(fd, data) });
    expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
    expect(r.histogramA).toEqual({ TC_ACT_REDIRECT: 12, TC_ACT_OK: 4 });
  });

  it("the Wasm host gives the kernel's actions, bytes and mark, and records each target", () => {
    const b = built();
    const host = new WasmHost(b.wasm);
    const obj = loadXdpObject(b.object);
    try {
      const targets: string[] = [];
      for (const f of frames) {
        const k = runTc(obj.programFd("redirects"), f);
        const w = host.runTc("redirects", f);
        expect([w.verdict, Buffer.from(w.data).toString("hex"), w.mark]).toEqual([
          k.verdict,
          Buffer.from(k.data).toString("hex"),
          new DataView(k.ctx!.buffer).getUint32(0, true),
        ]);
        if (w.redirect)
          targets.push(
            `${w.redirect.ifindex}${w.redirect.ingress ? " ingress" : ""}${w.redirect.via ? ` ${w.redirect.via}` : ""}`,
          );
      }
      expect(targets).toEqual([
        "3",
        "4464",
        "1",
        "3 ingress",
        "4464 ingress",
        "1 ingress",
        "3 neigh",
        "4464 neigh",
        "1 neigh",
        "3 peer",
        "4464 peer",
        "1 peer",
      ]);
    } finally {
      obj.close();
    }
  });
});

/** NAT frames: UDP (one with a zero checksum), TCP, fragments, VLAN, IPv6, the corpus. */
function natPackets() {
  const udp0 = build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } });
  udp0[40] = 0;
  udp0[41] = 0;
  const list = [
    build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
    build({ l3: { kind: "ipv4", ttl: 1 }, l4: { kind: "udp", dport: 9 } }),
    build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 443 } }),
    build({ eth: { vlans: [{ vid: 7 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 53 } }),
    build({ l3: { kind: "ipv6" }, l4: { kind: "udp", dport: 53 } }),
    udp0,
  ].map((data, i) => ({ data, source: `crafted:${i}` }));
  return [
    ...list,
    ...samplePackets(loadCorpus().packets, 300, 7).filter(
      (p) => p.data.length >= 14 && p.data.length <= 3500,
    ),
  ];
}

describeKernel("tc checksum helpers (l3CsumReplace, l4CsumReplace) in the kernel", () => {
  const clang = clangUnavailableReason();
  const natBuilt = () => {
    const out = compile(CSUM_NAT_TS, { file: "csum_nat.ts", emit: "object" });
    expect(out.diagnostics.map((d) => d.message)).toEqual([]);
    const wasm = compileToWasm(out.checked!, { only: "tc" });
    expect(wasm.diagnostics.map((d) => d.message)).toEqual([]);
    return { object: out.object!, wasm: wasm.binary! };
  };
  it.skipIf(clang !== null)(`agree with their clang -O2 twin${clang ? ` [${clang}]` : ""}`, () => {
    const twin = compileBpfC({ path: `${import.meta.dirname}/csum_nat.c` });
    const list = natPackets();
    const r = diffObjects(natBuilt().object, twin, list, { run: (fd, data) => runTc(fd, data) });
    expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
    expect(r.packets).toBe(list.length);
  });

  it("the Wasm host rewrites the same bytes and checksums as the kernel", () => {
    const b = natBuilt();
    const host = new WasmHost(b.wasm);
    const obj = loadXdpObject(b.object);
    let rewritten = 0;
    try {
      for (const p of natPackets()) {
        const k = runTc(obj.programFd("csum_nat"), p.data);
        if (k.error) continue; // refused by the skb test run (a cut IP header)
        const w = host.runTc("csum_nat", p.data);
        expect([w.verdict, Buffer.from(w.data).toString("hex"), w.mark], p.source).toEqual([
          k.verdict,
          Buffer.from(k.data).toString("hex"),
          new DataView(k.ctx!.buffer).getUint32(0, true),
        ]);
        if (Buffer.compare(Buffer.from(w.data), Buffer.from(p.data)) !== 0) rewritten++;
      }
    } finally {
      obj.close();
    }
    expect(rewritten).toBeGreaterThan(5);
  });
});

describeKernel("the skb test run's size limit", () => {
  it(`is SKB_TEST_MAX (${SKB_TEST_MAX} bytes): the kernel runs that many and refuses one more`, () => {
    const obj = loadXdpObject(built().object);
    try {
      const frame = (n: number) => {
        const f = new Uint8Array(n);
        f.set([0x88, 0xb5], 12);
        return f;
      };
      expect(runTc(obj.programFd("redirects"), frame(SKB_TEST_MAX)).name).toBe("TC_ACT_OK");
      expect(runTc(obj.programFd("redirects"), frame(SKB_TEST_MAX + 1)).name).toBe("error:EINVAL");
      expect(skbTestRunRefusal(frame(SKB_TEST_MAX))).toBe(null);
      expect(skbTestRunRefusal(frame(SKB_TEST_MAX + 1))).toBe("EINVAL");
    } finally {
      obj.close();
    }
  });
});

it("checks the checksum helpers' rules", () => {
  const d = (body: string, hook = "TcContext): TcAction") =>
    compile(
      `import { TcContext, TcAction, XdpContext, XdpAction, TC_ACT_OK } from "xdpc";\nexport function f(ctx: ${hook} { ${body} }`,
      { file: "c.ts", emit: "object" },
    ).diagnostics.map((x) => `${x.code}: ${x.message}`);
  expect(d("ctx.l3CsumReplace(24, 1, 2, 3); return TC_ACT_OK;")).toEqual([
    "3051: the size of l3CsumReplace()/l4CsumReplace() must be the constant 2 or 4 (bytes changed)",
  ]);
  expect(d("ctx.l4CsumReplace(40, 1, 2, 2, { pseudo: true }); return TC_ACT_OK;")).toEqual([
    "3052: l4CsumReplace()'s options are an object literal { pseudoHeader?, mangledZero? } of constant booleans",
  ]);
  expect(d("ctx.l3CsumReplace(24, 1, 2, 2); return 2;", "XdpContext): XdpAction")).toEqual([
    "2041: XdpContext has no method 'l3CsumReplace'",
  ]);
  // The helper moves packet data for the verifier: views taken before it are dead.
  expect(
    d(
      "const ip = ctx.ipv4(); if (ip === null) return TC_ACT_OK; ctx.l3CsumReplace(24, 1, 2, 2); return ip.ttl;",
    ),
  ).toEqual([expect.stringContaining("ctx.l3CsumReplace()")]);
});

it("checks the redirect helpers' rules", () => {
  const d = (src: string) =>
    compile(src, { file: "r.ts", emit: "object" }).diagnostics.map(
      (x) => `${x.code}: ${x.message}`,
    );
  const xdp = (body: string) =>
    d(
      `import { XdpContext, XdpAction, redirect, redirectNeigh, redirectPeer } from "xdpc";\nexport function f(ctx: XdpContext): XdpAction { ${body} }`,
    );
  const tc = (body: string) =>
    d(
      `import { TcContext, TcAction, redirect } from "xdpc";\nconst yes = true;\nexport function f(ctx: TcContext): TcAction { ${body} }`,
    );
  expect(xdp("redirectNeigh(2); return redirect(2);")).toEqual([
    "3033: redirectNeigh() is only available in tc programs",
  ]);
  expect(xdp("redirectPeer(2); return redirect(2);")).toEqual([
    "3033: redirectPeer() is only available in tc programs",
  ]);
  expect(xdp("return redirect(2, { ingress: true });")).toEqual([
    "3033: redirect()'s options is only available in tc programs",
  ]);
  expect(tc("return redirect(2, { ingress: true });")).toEqual([]);
  expect(tc("return redirect(2, { ingress: yes });")).toEqual([]);
  expect(tc("return redirect(2, { egress: true });")).toEqual([
    "3050: redirect()'s options are an object literal { ingress: true | false } (a constant)",
  ]);
  expect(tc("return redirect(2, { ingress: ctx.len > 3 });")).toEqual([
    "3050: redirect()'s options are an object literal { ingress: true | false } (a constant)",
  ]);
});
