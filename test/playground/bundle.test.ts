// The playground bundle (dist/playground/playground.js, built by bin/build.mjs) runs
// without Node: loaded into a vm context that has only web-platform globals (no
// process, require, Buffer), its compiler builds byte-identical eBPF objects and Wasm
// modules to the Node build of the same compiler, and its Wasm host gives the verdicts
// and rewritten bytes the Node host gives (the host the kernel differential tests check).
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import vm from "node:vm";
import { compile, compileWasm } from "../../compiler/driver/index.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import type * as Engine from "../../playground/engine.ts";

const ROOT = join(import.meta.dirname, "../..");
const BUNDLE = join(ROOT, "dist/playground/playground.js");

function loadBundle(): { engine: typeof Engine; globals: Record<string, string> } {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`);
  // Web-platform globals only; the context's own realm has the JS built-ins and WebAssembly.
  const ctx = vm.createContext({
    console,
    TextEncoder,
    TextDecoder,
    URL,
    crypto,
    performance,
    setTimeout,
    clearTimeout,
    queueMicrotask,
  });
  vm.runInContext(readFileSync(BUNDLE, "utf8"), ctx, { filename: "playground.js" });
  const globals = vm.runInContext(
    `({ process: typeof process, require: typeof require, Buffer: typeof Buffer, module: typeof module, document: typeof document })`,
    ctx,
  ) as Record<string, string>;
  return { engine: (ctx as { xdpcPlayground: typeof Engine }).xdpcPlayground, globals };
}

const { engine, globals } = loadBundle();
const bytes = (u: Uint8Array) => Array.from(u);

async function nodeBuild(source: string) {
  const out = compile(source, { file: "filter.ts", emit: "object" });
  const wasm = await compileWasm(out, { only: "xdp" });
  return { object: out.object!, wasm: wasm!.binary! };
}

describe("playground bundle in a vm without Node", () => {
  it("sees no Node globals", () => {
    expect(globals).toEqual({
      process: "undefined",
      require: "undefined",
      Buffer: "undefined",
      module: "undefined",
      document: "undefined",
    });
  });

  it("holds every example filter of filters/ as a preset", () => {
    const names = engine.PRESETS.map((p) => p.name);
    expect(names).toEqual([
      "dns_policy.ts",
      "icmp_echo.ts",
      "lpm_firewall.ts",
      "syn_guard.ts",
      "tcp_events.ts",
      "vlan_filter.ts",
    ]);
    for (const p of engine.PRESETS)
      expect(p.source).toBe(readFileSync(join(ROOT, "filters", p.name), "utf8"));
  });

  it.each([
    "dns_policy.ts",
    "icmp_echo.ts",
    "lpm_firewall.ts",
    "syn_guard.ts",
    "tcp_events.ts",
    "vlan_filter.ts",
  ])(
    "compiles %s to the same object and Wasm module as Node does, with a listing",
    async (name) => {
      const source = readFileSync(join(ROOT, "filters", name), "utf8");
      const r = await engine.compileSource(source, "filter.ts");
      expect(r.diagnostics).toEqual([]);
      expect(r.ok).toBe(true);
      const node = await nodeBuild(source);
      expect(bytes(r.object!)).toEqual(bytes(node.object));
      expect(bytes(r.wasm!)).toEqual(bytes(node.wasm));
      const prog = name.replace(/\.ts$/, "");
      expect(r.programs).toEqual([prog]);
      expect(r.listing).toContain(`<${prog}>:`);
      // Source lines from BTF line info, in xdpc disasm's layout.
      expect(r.listing).toMatch(/^; filter\.ts:\d+: \S/m);
    },
  );

  // Exact verdicts per built-in sample, by the filters' documented rules (defaults, empty maps).
  const P = "XDP_PASS";
  const expected: Record<string, string[]> = {
    // echo requests (IPv4, ICMPv6) are answered in place
    "icmp_echo.ts": ["XDP_TX", P, P, P, P, P, P, "XDP_TX", P, P, P, P],
    // a DNS response sent to :53 is reflection; 1400 bytes from :53 exceed maxResponse 1232
    "dns_policy.ts": [P, P, "XDP_DROP", "XDP_DROP", P, P, P, P, P, P, P, P],
    // VLAN 100 is admitted, 200 is not; untagged frames pass
    "vlan_filter.ts": [P, P, P, P, P, P, P, P, P, P, P, "XDP_DROP"],
  };
  it.each(Object.keys(expected))(
    "runs the samples through %s as the Node host does",
    async (name) => {
      const source = readFileSync(join(ROOT, "filters", name), "utf8");
      const r = await engine.compileSource(source, "filter.ts");
      const prog = name.replace(/\.ts$/, "");
      const run = engine.runPackets(r.wasm!, prog, engine.SAMPLES);
      expect(run.error).toBeUndefined();
      expect(run.results.map((x) => x.verdictName)).toEqual(expected[name]);
      const host = new WasmHost((await nodeBuild(source)).wasm);
      for (const [i, s] of engine.SAMPLES.entries()) {
        const n = host.run(prog, s.data);
        expect(run.results[i]!.verdict).toBe(n.verdict);
        expect(bytes(run.results[i]!.output)).toEqual(bytes(n.data));
        expect(run.results[i]!.changed).toBe(bytes(n.data).join() !== bytes(s.data).join());
      }
    },
  );

  it("rewrites the ICMP echo request into its reply", async () => {
    const source = readFileSync(join(ROOT, "filters/icmp_echo.ts"), "utf8");
    const r = await engine.compileSource(source);
    const [res] = engine.runPackets(r.wasm!, "icmp_echo", [engine.SAMPLES[0]!]).results;
    const i = res!.input;
    const o = res!.output;
    expect(bytes(o.subarray(0, 6))).toEqual(bytes(i.subarray(6, 12))); // MACs swapped
    expect(bytes(o.subarray(6, 12))).toEqual(bytes(i.subarray(0, 6)));
    expect(bytes(o.subarray(26, 30))).toEqual(bytes(i.subarray(30, 34))); // IPv4 addresses swapped
    expect(bytes(o.subarray(30, 34))).toEqual(bytes(i.subarray(26, 30)));
    expect(o[34]).toBe(0); // echo reply
    expect(i[34]).toBe(8);
  });

  it("reports a type error at its line, and a syntax error", () => {
    const src = [
      'import { XdpContext, XdpAction, XDP_PASS } from "xdpc";',
      "",
      "export function f(ctx: XdpContext): XdpAction {",
      "  const x: u32 = nope;",
      "  return XDP_PASS;",
      "}",
      "",
    ].join("\n");
    const d = engine.checkSource(src);
    expect(d.length).toBeGreaterThan(0);
    expect(d[0]).toMatchObject({ line: 4, severity: "error" });
    expect(d[0]!.rendered).toContain("nope");
    const s = engine.checkSource("export function f( {\n");
    expect(s.some((x) => x.severity === "error" && x.line === 1)).toBe(true);
  });

  it("refuses a filter calling fibLookup in one line naming the helper and the kernel engine", async () => {
    const src = [
      'import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, FibLookupParams, fibLookup, zeroed } from "xdpc";',
      "export function route(ctx: XdpContext): XdpAction {",
      "  const p = zeroed<FibLookupParams>();",
      "  p.ifindex = ctx.ifindex;",
      "  if (fibLookup(ctx, p) === 0) return XDP_DROP;",
      "  return XDP_PASS;",
      "}",
      "",
    ].join("\n");
    const r = await engine.compileSource(src, "route.ts");
    expect(r.ok).toBe(true);
    const run = engine.runPackets(r.wasm!, "route", engine.SAMPLES, "route.ts");
    expect(run.error).toBe(
      "route.ts: the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it (xdpc test --engine kernel)",
    );
    expect(run.results).toEqual([]);
  });

  it("reads a pcap file's packets", () => {
    const file = writePcap(engine.SAMPLES.slice(0, 3).map((s) => ({ data: s.data })));
    const pk = engine.readCapture(file, "t.pcap");
    expect(pk.map((p) => p.name)).toEqual(["t.pcap #1", "t.pcap #2", "t.pcap #3"]);
    expect(pk.map((p) => bytes(p.data))).toEqual(
      engine.SAMPLES.slice(0, 3).map((s) => bytes(s.data)),
    );
    expect(() => engine.readCapture(new Uint8Array(10))).toThrow(/byte offset/);
  });

  it("describes the sample frames", () => {
    expect(engine.SAMPLES.map((s) => engine.describeFrame(s.data))).toEqual([
      "ICMP type 8 198.18.0.1 → 198.18.0.2",
      "UDP 198.18.0.1:40000 → 198.18.0.2:53",
      "UDP 198.18.0.1:40001 → 198.18.0.2:53",
      "UDP 198.18.0.1:53 → 198.18.0.2:40000",
      "TCP 198.18.0.1:40000 → 198.18.0.2:80",
      "TCP 198.18.0.1:80 → 198.18.0.2:40000",
      "TCP 198.18.0.1:40000 → 198.18.0.2:80",
      "ICMPv6 type 128 2001:2::1 → 2001:2::2",
      "UDP [2001:2::1]:40000 → [2001:2::2]:53",
      "ARP request 198.18.0.1 → 198.18.0.2",
      "VLAN 100, UDP 198.18.0.1:40000 → 198.18.0.2:53",
      "VLAN 200, TCP 198.18.0.1:40000 → 198.18.0.2:22",
    ]);
  });
});
