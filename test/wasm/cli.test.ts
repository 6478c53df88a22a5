// `xdpc build` writes FILE.wasm beside FILE.o when the source has AF_XDP handlers (and
// only then); the .wasm carries its metadata and runs in the JS host.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readMeta } from "../../compiler/wasm/abi.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { repo, xdpc } from "../cli/run.ts";
import { tcp4, udp4 } from "../../runtime/packets/build.ts";

const AF_XDP = `import { XdpContext, XdpAction, XDP_PASS, XskMap, XskPacket, XskVerdict, XSK_DROP, XSK_TX } from "xdpc";

export function echo(pkt: XskPacket): XskVerdict {
  const udp = pkt.udp();
  if (udp === null) return XSK_DROP;
  return XSK_TX;
}

const sockets = new XskMap({ maxEntries: 4, handler: echo });

export function steer(ctx: XdpContext): XdpAction {
  if (ctx.udp() === null) return XDP_PASS;
  return sockets.redirect(ctx.rxQueue, XDP_PASS);
}
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-wasm-"));
  writeFileSync(join(dir, "af.ts"), AF_XDP);
  copyFileSync(join(repo, "filters/vlan_filter.ts"), join(dir, "plain.ts"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("xdpc build with AF_XDP handlers", () => {
  it("writes FILE.wasm beside FILE.o, holding the handlers", () => {
    const r = xdpc(["build", join(dir, "af.ts")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("af.wasm: echo");
    const wasm = new Uint8Array(readFileSync(join(dir, "af.wasm")));
    expect(existsSync(join(dir, "af.o"))).toBe(true);
    expect(readMeta(wasm)!.functions).toEqual([{ name: "echo", kind: "handler" }]);
    const host = new WasmHost(wasm);
    expect(host.run("echo", udp4()).verdict).toBe(1);
    expect(host.run("echo", tcp4()).verdict).toBe(0);
  });

  it("follows -o: out.o gets out.wasm", () => {
    const r = xdpc(["build", join(dir, "af.ts"), "-o", join(dir, "out.o")]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, "out.wasm"))).toBe(true);
  });

  it("writes no .wasm for a file without handlers", () => {
    const r = xdpc(["build", join(dir, "plain.ts")]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, "plain.o"))).toBe(true);
    expect(existsSync(join(dir, "plain.wasm"))).toBe(false);
  });
});
