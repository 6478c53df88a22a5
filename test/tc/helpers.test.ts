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
