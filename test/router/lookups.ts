// What the kernel-vs-Wasm fib_lookup tests share (fib-wasm.test.ts for IPv4,
// fib6-wasm.test.ts for IPv6): one program's lookups run in the router namespace's
// kernel and in the Wasm host over that namespace's table, and `xdpc test --engine both`
// over the same frames.
import { expect } from "vitest";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { routeTableOf } from "../../runtime/lab/routes.ts";
import { ifindex, runInNetns } from "../../runtime/lab/netns.ts";
import type { RouterLab } from "../../runtime/lab/router.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import { loadXdpObject, runXdp, type XdpObject } from "../support/xdp.ts";
import { runTc } from "../support/tc.ts";
import { repo } from "../support/unprivileged.ts";

/** Each frame's output bytes from program `fib` in the kernel and in the Wasm host. */
export function kernelAndHost(
  source: string,
  hook: "xdp" | "tc",
  lab: RouterLab,
  frames: Uint8Array[],
  pinRoot: string,
): { kernel: Uint8Array[]; wasm: Uint8Array[] } {
  const built = compile(source, { file: "fib.ts", emit: "object" });
  expect(built.diagnostics.map((d) => d.message)).toEqual([]);
  const wasm = compileToWasm(built.checked!, { only: hook });
  expect(wasm.diagnostics.map((d) => d.message)).toEqual([]);
  const host = new WasmHost(wasm.binary!, { routes: routeTableOf(lab.router) });
  const inIndex = ifindex(lab.routerInIf, lab.router);
  const kernel = runInNetns(lab.router, () => {
    const obj: XdpObject = loadXdpObject(built.object!, { pinRoot });
    try {
      return hook === "xdp"
        ? runXdp(obj.programFd("fib"), frames, { ingressIfindex: inIndex }).map((r) => r.data)
        : frames.map((f) => runTc(obj.programFd("fib"), f).data);
    } finally {
      obj.close();
    }
  });
  const out = frames.map((f) =>
    hook === "xdp" ? host.run("fib", f, { ifindex: inIndex }).data : host.runTc("fib", f).data,
  );
  return { kernel, wasm: out };
}

/** `xdpc test --engine both --routes` inside the router namespace agrees on every frame. */
export function expectXdpcTestAgrees(source: string, lab: RouterLab, frames: Uint8Array[]): void {
  const tmp = `/tmp/xdpc-fib-${lab.name}-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, "fib.ts"), source);
    writeFileSync(join(tmp, "in.pcap"), writePcap(frames.map((data) => ({ data }))));
    writeFileSync(join(tmp, "routes.json"), JSON.stringify(routeTableOf(lab.router)));
    const r = spawnSync(
      "nsenter",
      [
        `--net=/run/netns/${lab.router}`,
        process.execPath,
        join(repo, "bin/xdpc.js"),
        "test",
        join(tmp, "fib.ts"),
        "--pcap",
        join(tmp, "in.pcap"),
        "--engine",
        "both",
        "--routes",
        join(tmp, "routes.json"),
        "--ifindex",
        String(ifindex(lab.routerInIf, lab.router)),
      ],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(
      `kernel and wasm agree on all ${frames.length} packets: verdicts, bytes and maps`,
    );
    expect(r.status).toBe(0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
