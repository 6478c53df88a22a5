// tcx programs (`ctx: TcContext<"tcx/ingress">`, section tcx/ingress): the checker's
// rules (sections, the TCX_* verdict diagnostic), xdpc's object against its clang -O2
// twin (test/tc/tcx_guard.c, SEC("tcx/ingress")) under the skb test run and against the
// Wasm host, xdpc/testing's TCX_* names, what bpftool and iproute2 (libbpf 1.1) do with
// the object, and `xdpc load` without --tc in a namespace of this test (lab index 46,
// 198.18.46.0/30, the sender in index 49): the tcx link attached at ingress, datagrams
// dropped and passed counted exactly, a contradicting --tc refused, nothing left after.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { build } from "../../runtime/packets/build.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import { clangUnavailableReason, compileBpfC } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { runTc } from "../support/tc.ts";
import { testFilter } from "../../runtime/testing/index.ts";
import type { FilterRun, PacketResult } from "../../runtime/testing/api.ts";
import { until } from "../support/wait.ts";
import { npmBuild, xdpc as xdpcIn, type Lab } from "../runtime/loader-support.ts";
import { xdpc } from "../cli/run.ts";
import { buildTc, expectWasmAgrees } from "./support.ts";

const FILE = join(import.meta.dirname, "tcx_guard.ts");
const SOURCE = readFileSync(FILE, "utf8");
const TWIN = join(import.meta.dirname, "tcx_guard.c");

const compileTs = (source: string) => compile(source, { file: "t.ts", emit: "object" });
const diagnostics = (source: string) =>
  compileTs(source).diagnostics.map((d) => `${d.code} ${d.span.start}: ${d.message}`);
const IMPORTS = `import { TcContext, TcAction, TCX_NEXT, TCX_PASS, TCX_DROP, TCX_REDIRECT, TC_ACT_OK, TC_ACT_SHOT, TC_ACT_PIPE, TC_ACT_STOLEN, redirect } from "xdpc";\n`;
const program = (ctx: string, body: string) =>
  `${IMPORTS}export function p(ctx: ${ctx}): TcAction {\n${body}\n}\n`;

describe("tcx programs in the checker", () => {
  it('TcContext<S> picks the section: "tc" by default, tcx/ingress, tcx/egress', () => {
    for (const [ctx, section] of [
      ["TcContext", "tc"],
      ['TcContext<"tc">', "tc"],
      ['TcContext<"tcx/ingress">', "tcx/ingress"],
      ['TcContext<"tcx/egress">', "tcx/egress"],
    ] as const) {
      const out = compileTs(program(ctx, "return TCX_PASS;"));
      expect(
        out.diagnostics.map((d) => d.message),
        ctx,
      ).toEqual([]);
      const info = readObject(out.object!);
      expect(
        info.programs.map((p) => p.section),
        ctx,
      ).toEqual([section]);
    }
  });

  it("accepts the four tcx verdicts, their TC_ACT_* twins and run-time values", () => {
    const body = [
      "if (ctx.len > 1000) return TCX_NEXT;",
      "if (ctx.len > 900) return TCX_DROP;",
      "if (ctx.len > 800) return TC_ACT_SHOT;",
      "if (ctx.len > 700) return redirect(3);",
      "if (ctx.len > 600) return ctx.len > 650 ? TCX_REDIRECT : TC_ACT_OK;",
      "if (ctx.len > 500) return (ctx.mark as i32) - 1;",
      "return TCX_PASS;",
    ].join("\n");
    const src = program('TcContext<"tcx/egress">', body).replace("redirect }", "redirect, i32 }");
    expect(diagnostics(src)).toEqual([]);
  });

  it("a constant verdict tcx does not define is XDP3071 where it is returned", () => {
    const src = program(
      'TcContext<"tcx/ingress">',
      [
        "if (ctx.len > 100) return TC_ACT_PIPE;",
        "if (ctx.len > 90) return ctx.len > 95 ? TCX_DROP : TC_ACT_STOLEN;",
        "return 5;",
      ].join("\n"),
    );
    const at = (s: string, from = 0) => src.indexOf(s, from);
    const tail =
      "is not a tcx verdict: a tcx program returns TCX_NEXT (-1), TCX_PASS (0), TCX_DROP (2) or TCX_REDIRECT (7), and the kernel runs any other value as TCX_NEXT";
    expect(diagnostics(src)).toEqual([
      `3071 ${at("TC_ACT_PIPE;")}: TC_ACT_PIPE (3) ${tail}`,
      `3071 ${at("TC_ACT_STOLEN;")}: TC_ACT_STOLEN (4) ${tail}`,
      `3071 ${at("5;", at("return 5"))}: 5 ${tail}`,
    ]);
    // The same returns in a `tc` program are tc actions, all valid.
    expect(diagnostics(src.replace('TcContext<"tcx/ingress">', "TcContext"))).toEqual([]);
  });

  it("a helper typed c: TcContext takes a tcx program's context", () => {
    const src = `${IMPORTS}function big(c: TcContext): boolean { return c.len > 100; }
function drop(c: TcContext<"tcx/egress">): TcAction { return c.len > 5 ? TCX_DROP : TCX_PASS; }
export function p(ctx: TcContext<"tcx/ingress">): TcAction { if (big(ctx)) return drop(ctx); return TCX_PASS; }\n`;
    expect(diagnostics(src)).toEqual([]);
  });

  it("refuses other sections and string literal types elsewhere, with their locations", () => {
    const bogus = program('TcContext<"tcx/ingres">', "return TCX_PASS;");
    expect(diagnostics(bogus)).toEqual([
      `3070 ${bogus.indexOf('"tcx/ingres"')}: the section of a TcContext is "tc", "tcx/ingress" or "tcx/egress" (a string literal), not "tcx/ingres"`,
    ]);
    const num = program("TcContext<3>", "return TCX_PASS;");
    expect(diagnostics(num)).toEqual([
      `3070 ${num.indexOf("3>")}: the section of a TcContext is "tc", "tcx/ingress" or "tcx/egress" (a string literal)`,
    ]);
    const two = program('TcContext<"tc", "tc">', "return TCX_PASS;");
    expect(diagnostics(two)).toEqual([
      `2008 ${two.indexOf("TcContext<")}: 'TcContext' expects 1 type argument(s), got 2`,
    ]);
    const alias = `${IMPORTS}type K = "a";\n`;
    expect(diagnostics(alias)).toEqual([
      `2048 ${alias.indexOf('"a"')}: a string literal type is not allowed as a type here (only as the section of TcContext<"tcx/ingress">)`,
    ]);
    const xdp = `import { XdpContext, XdpAction } from "xdpc";\nexport function p(ctx: XdpContext<"tcx/ingress">): XdpAction { return 2; }\n`;
    expect(diagnostics(xdp)).toEqual([
      `2052 ${xdp.indexOf("XdpContext<")}: 'XdpContext' takes no type arguments`,
    ]);
  });

  it("the Wasm module's metadata names the section", async () => {
    const { compileToWasm } = await import("../../compiler/wasm/compile.ts");
    const out = compile(SOURCE, { file: "tcx_guard.ts", emit: "object" });
    const w = compileToWasm(out.checked!, { only: "tc" });
    expect(w.meta?.functions).toEqual([{ name: "tcx_guard", kind: "tc", section: "tcx/ingress" }]);
  });
});

/** UDP to the blocked port 9 and to others, TCP, VLAN-tagged, IPv6 and ARP-sized frames, the corpus. */
function packets() {
  const list = [
    build({ l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 9 } }),
    build({ l3: { kind: "ipv4", ttl: 3 }, l4: { kind: "udp", dport: 53 } }),
    build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport: 9 } }),
    build({ eth: { vlans: [{ vid: 7 }] }, l3: { kind: "ipv4" }, l4: { kind: "udp", dport: 9 } }),
    build({ l3: { kind: "ipv6" }, l4: { kind: "udp", dport: 9 } }),
    new Uint8Array(60).fill(0xee),
  ].map((data, i) => ({ data, source: `crafted:${i}` }));
  return [
    ...list,
    ...samplePackets(loadCorpus().packets, 300, 46).filter(
      (p) => p.data.length >= 14 && p.data.length <= 3500,
    ),
  ];
}

describeKernel("a tcx program in the kernel and the Wasm host", () => {
  const clang = clangUnavailableReason();
  const built = () => buildTc(SOURCE, "tcx_guard.ts");

  it.skipIf(clang !== null)(
    `agrees with its clang -O2 twin (SEC("tcx/ingress"))${clang ? ` [${clang}]` : ""}`,
    () => {
      const ours = built().object;
      const twin = compileBpfC({ path: TWIN });
      expect(readObject(twin).programs.map((p) => p.section)).toEqual(["tcx/ingress"]);
      const list = packets();
      const r = diffObjects(ours, twin, list, { run: (fd, data) => runTc(fd, data) });
      expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
      expect(r.packets).toBe(list.length);
      // Every path ran: dropped (2), passed (0), sent on (-1), and the skb test run's refusals.
      expect(Object.keys(r.histogramA).sort()).toEqual([
        "TC_ACT_OK",
        "TC_ACT_SHOT",
        "TC_ACT_UNSPEC",
        "error:EINVAL",
      ]);
    },
  );

  it("the Wasm host returns the same verdicts, bytes and marks as the kernel", () => {
    const runs = expectWasmAgrees(built(), "tcx_guard", packets());
    expect(new Set(runs.map((w) => w.verdict))).toEqual(new Set([-1, 0, 2]));
    expect(runs.length).toBeGreaterThan(200);
  });

  it("xdpc/testing names its verdicts TCX_*, on both engines alike", async () => {
    const frames = packets()
      .slice(0, 6)
      .map((p) => p.data);
    const run = await testFilter(FILE, { engine: "both" });
    try {
      check(run.runAll(frames), run);
    } finally {
      run.close();
    }
  });
});

function check(r: PacketResult[], run: FilterRun): void {
  {
    expect(r.map((x) => x.verdict ?? "not run")).toEqual([
      "TCX_DROP",
      "TCX_PASS",
      "TCX_PASS",
      "TCX_DROP",
      "TCX_NEXT",
      "TCX_NEXT",
    ]);
    expect(r[1]!.mark).toBe((17 << 8) | 3);
    expect(run.map("verdicts").entries()).toEqual([
      { key: 0, value: 2n },
      { key: 1, value: 2n },
      { key: 2, value: 2n },
    ]);
  }
}

// ---------------------------------------------------------------- tools and xdpc load

const NS = "xdpc-tcx46";
const PEER = "xdpc-tcx49";
const A = "xtcx46a";
const B = "xtcx46b";
const sh = (cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
const inNs = (cmd: string[]) => sh(["nsenter", `--net=/run/netns/${NS}`, ...cmd]);
const inPeer = (cmd: string[]) => sh(["nsenter", `--net=/run/netns/${PEER}`, ...cmd]);
const bpftool = (...args: string[]) => JSON.parse(sh(["bpftool", "-j", ...args])) as unknown;
/** `n` UDP datagrams from the peer to 198.18.46.1:port. */
const send = (port: number, n: number) =>
  inPeer(["bash", "-c", `for i in $(seq ${n}); do echo x > /dev/udp/198.18.46.1/${port}; done`]);
/** Udp NoPorts of the lab namespace: datagrams that reached its UDP layer with no socket. */
const noPorts = () => {
  const lines = inNs(["cat", "/proc/net/snmp"])
    .split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const i = lines[0]!.split(" ").indexOf("NoPorts");
  return Number(lines[1]!.split(" ")[i]);
};

describeKernel("a tcx object in bpftool, iproute2 and xdpc load", () => {
  let tmp = "";
  let obj = "";
  let lab: Lab;
  beforeAll(() => {
    npmBuild();
    tmp = mkdtempSync(join(tmpdir(), "xdpct-tcx-"));
    obj = join(tmp, "tcx_guard.o");
    const b = xdpc(["build", FILE, "-o", obj]);
    expect(b.status, b.stderr).toBe(0);
    for (const ns of [NS, PEER]) {
      spawnQuiet(["ip", "netns", "del", ns]); // a crashed run's
      sh(["ip", "netns", "add", ns]);
    }
    inNs(["ip", "link", "add", A, "type", "veth", "peer", "name", B, "netns", PEER]);
    inNs(["ip", "addr", "add", "198.18.46.1/30", "dev", A]);
    inPeer(["ip", "addr", "add", "198.18.46.2/30", "dev", B]);
    for (const d of ["lo", A]) inNs(["ip", "link", "set", d, "up"]);
    for (const d of ["lo", B]) inPeer(["ip", "link", "set", d, "up"]);
    // The peer knows A's MAC: no ARP exchange among the counted datagrams.
    const mac = (JSON.parse(inNs(["ip", "-j", "link", "show", A])) as { address: string }[])[0]!
      .address;
    inPeer(["ip", "neigh", "replace", "198.18.46.1", "lladdr", mac, "dev", B]);
    const pinRoot = `/sys/fs/bpf/xdpct-tcx-${process.pid}`;
    const runDir = join(tmp, "run");
    mkdirSync(runDir);
    lab = {
      ns: NS,
      iface: A,
      peer: B,
      pinRoot,
      runDir,
      tmp,
      env: { ...process.env, XDPC_PIN_ROOT: pinRoot, XDPC_RUN_DIR: runDir },
    };
  }, 120_000);
  afterAll(() => {
    for (const ns of [NS, PEER]) spawnQuiet(["ip", "netns", "del", ns]);
    if (lab) rmSync(lab.pinRoot, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("xdpc test prints a tcx program's verdict table in TCX_* names", () => {
    const pcap = join(tmp, "tcx.pcap");
    writeFileSync(
      pcap,
      writePcap(
        packets()
          .slice(0, 6)
          .map((p) => ({ data: p.data })),
      ),
    );
    const r = xdpc(["test", FILE, "--pcap", pcap, "--engine", "both"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(
      "  verdict   packets   share\n" +
        "  TCX_NEXT        2   33.3%\n" +
        "  TCX_PASS        2   33.3%\n" +
        "  TCX_DROP        2   33.3%\n" +
        "  total           6\n",
    );
    expect(r.stdout).toContain("kernel and wasm agree on all 6 packets");
  });

  it("bpftool 7.1 (libbpf 1.1) refuses the section alone and loads it with `type tc`", () => {
    const bare = `/sys/fs/bpf/xdpct-tcx-${process.pid}-a`;
    // libbpf 1.1: "failed to guess program type from ELF section 'tcx/ingress'".
    expect(spawnQuiet(["bpftool", "prog", "loadall", obj, bare])).not.toBe(0);
    const dir = `/sys/fs/bpf/xdpct-tcx-${process.pid}-b`;
    try {
      sh(["bpftool", "prog", "loadall", obj, dir, "type", "tc"]);
      const prog = bpftool("prog", "show", "pinned", `${dir}/tcx_guard`) as {
        type: string;
        name: string;
        btf_id?: number;
      };
      expect([prog.type, prog.name]).toEqual(["sched_cls", "tcx_guard"]);
      expect(prog.btf_id).toBeGreaterThan(0);
      const xlated = sh([
        "bpftool",
        "prog",
        "dump",
        "xlated",
        "pinned",
        `${dir}/tcx_guard`,
        "linum",
      ]);
      expect(xlated).toMatch(/\[file:.*tcx_guard\.ts line_num:\d+ line_col:\d+\]/);
      expect(xlated).toContain("return TCX_DROP;");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it("tc filter add … ingress bpf da obj FILE.o sec tcx/ingress attaches it, and it drops live datagrams", async () => {
    // iproute2 makes its own bpffs tree: give it a private one.
    inNs([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mount -t bpf bpf /sys/fs/bpf && tc qdisc add dev ${A} clsact && tc filter add dev ${A} ingress bpf da obj ${obj} sec tcx/ingress`,
    ]);
    try {
      expect(inNs(["tc", "filter", "show", "dev", A, "ingress"])).toMatch(
        /\.o:\[tcx\/ingress\] direct-action .*name tcx_guard/,
      );
      const net = JSON.parse(inNs(["bpftool", "-j", "net", "show", "dev", A])) as {
        tc: { id: number }[];
      }[];
      const { map_ids } = bpftool("prog", "show", "id", String(net[0]!.tc[0]!.id)) as {
        map_ids: number[];
      };
      const verdicts = map_ids.find(
        (id) => (bpftool("map", "show", "id", String(id)) as { name: string }).name === "verdicts",
      )!;
      const count = (i: number) =>
        Number(
          (
            bpftool("map", "lookup", "id", String(verdicts), "key", String(i), "0", "0", "0") as {
              value: string[];
            }
          ).value[0],
        );
      const before = noPorts();
      send(9, 4);
      send(53, 3);
      await until(() => count(0) + count(1) >= 7, 5000, "the verdicts map");
      expect([count(0), count(1)]).toEqual([3, 4]);
      expect(noPorts() - before).toBe(3);
    } finally {
      inNs(["tc", "qdisc", "del", "dev", A, "clsact"]);
    }
  });

  const status = () => {
    const r = xdpcIn(lab, ["status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { filters: { hook?: string; mode: string; progId: number }[] })
      .filters;
  };
  const links = () =>
    (bpftool("link", "list") as { type: number | string; prog_id: number }[]).filter(
      (l) => l.type === 11 || l.type === "tcx",
    );

  it("xdpc load attaches it at ingress by its section; drops and passes are counted exactly", async () => {
    const other = xdpcIn(lab, ["load", "--iface", A, "--tc", "egress", FILE]);
    expect([other.code, other.stderr.trim()]).toEqual([
      2,
      "xdpc: error: 'tcx_guard' is a tcx/ingress program, which attaches at ingress: --tc egress contradicts its section; nothing was attached",
    ]);
    expect(status()).toEqual([]);

    const r = xdpcIn(lab, ["load", "--iface", A, obj]);
    expect(r.code, r.stderr).toBe(0);
    const id = Number(
      /^xtcx46a ingress: tcx_guard \(id (\d+)\) attached by tcx/.exec(r.stdout)?.[1],
    );
    expect(id).toBeGreaterThan(0);
    expect(status()).toMatchObject([{ hook: "tc-ingress", mode: "tcx", progId: id }]);
    // bpftool 7.1 lists the tcx link by its type number (BPF_LINK_TYPE_TCX, 11).
    expect(links().map((l) => l.prog_id)).toContain(id);

    const dump = () => {
      const d = xdpcIn(lab, ["map", "dump", "--iface", A, "--tc", "ingress", "verdicts", "--json"]);
      expect(d.code, d.stderr).toBe(0);
      const e = JSON.parse(d.stdout) as { key: number; value: number }[];
      return [0, 1].map((k) => e.find((x) => x.key === k)?.value ?? 0);
    };
    const before = noPorts();
    send(9, 20);
    send(53, 7);
    await until(() => dump()[0]! + dump()[1]! >= 27, 5000, "the verdicts map");
    expect(dump()).toEqual([7, 20]);
    expect(noPorts() - before).toBe(7);

    // A matching --tc replaces it in place, with a parameter: now port 53 is the one dropped.
    const again = xdpcIn(lab, [
      "load",
      "--iface",
      A,
      "--tc",
      "ingress",
      FILE,
      "--set",
      "blockedPort=53",
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`replaced program id ${id} at ${A} ingress (tcx)`);
    const after = status();
    expect(after).toMatchObject([{ hook: "tc-ingress", mode: "tcx" }]);
    const before2 = noPorts();
    send(53, 5);
    send(9, 2);
    await until(() => dump()[0]! + dump()[1]! >= 7, 5000, "the new program's verdicts map");
    expect(dump()).toEqual([2, 5]);
    expect(noPorts() - before2).toBe(2);

    const un = xdpcIn(lab, ["unload", "--iface", A, "--tc", "ingress"]);
    expect(un.code, un.stderr).toBe(0);
    expect(un.stdout).toContain(`detached id ${after[0]!.progId} (tcx)`);
    expect(status()).toEqual([]);
    expect(links().map((l) => l.prog_id)).not.toContain(after[0]!.progId);
    const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
    expect(entries(lab.pinRoot)).toEqual([]);
    expect(entries(join(lab.runDir, "filters"))).toEqual([]);
  }, 120_000);

  it("a file with a tcx program per hook: --tc or --program picks one, each at its own hook", () => {
    const both = join(tmp, "both.ts");
    writeFileSync(
      both,
      `import { TcContext, TcAction, TCX_PASS, TCX_NEXT } from "xdpc";
export function ing(ctx: TcContext<"tcx/ingress">): TcAction { return TCX_PASS; }
export function eg(ctx: TcContext<"tcx/egress">): TcAction { return TCX_NEXT; }
`,
    );
    const none = xdpcIn(lab, ["load", "--iface", A, both]);
    expect([none.code, none.stderr.trim()]).toEqual([
      2,
      `xdpc: error: '${both}' has 2 tc programs (ing, eg); choose one with --program`,
    ]);
    const eg = xdpcIn(lab, ["load", "--iface", A, "--tc", "egress", both]);
    expect(eg.code, eg.stderr).toBe(0);
    expect(eg.stdout).toMatch(/^xtcx46a egress: eg \(id \d+\) attached by tcx/);
    const ing = xdpcIn(lab, ["load", "--iface", A, "--program", "ing", both]);
    expect(ing.code, ing.stderr).toBe(0);
    expect(ing.stdout).toMatch(/^xtcx46a ingress: ing \(id \d+\) attached by tcx/);
    expect(
      status()
        .map((f) => f.hook)
        .sort(),
    ).toEqual(["tc-egress", "tc-ingress"]);
    for (const dir of ["ingress", "egress"]) {
      const un = xdpcIn(lab, ["unload", "--iface", A, "--tc", dir]);
      expect(un.code, un.stderr).toBe(0);
    }
    expect(status()).toEqual([]);
  }, 60_000);

  it("xdpc/runtime's attachTc takes the hook from the section; a contradicting direction throws", () => {
    const root = join(import.meta.dirname, "../..");
    const script = `import { open } from "${root}/runtime/control/index.ts";
import { progQuery } from "${root}/native/tc.ts";
import { ifNameToIndex } from "${root}/native/ifname.ts";
const out = {};
const err = (f) => { try { f(); return "no error"; } catch (e) { return e.constructor.name + ": " + e.message; } };
const c = open(${JSON.stringify(FILE)}).load();
const p = c.programs.tcx_guard;
out.section = p.section;
out.egress = err(() => p.attachTc(${JSON.stringify(A)}, { direction: "egress" }));
const link = p.attachTc(${JSON.stringify(A)});
out.link = [link.mode, link.hook];
out.attached = progQuery(ifNameToIndex(${JSON.stringify(A)}), 46).includes(p.id);
out.egressIds = progQuery(ifNameToIndex(${JSON.stringify(A)}), 47);
link.close();
out.after = progQuery(ifNameToIndex(${JSON.stringify(A)}), 46);
const tc = open(${JSON.stringify(join(root, "filters/tc/egress_policy.ts"))}).load();
out.plain = err(() => tc.programs.egress_policy.attachTc(${JSON.stringify(A)}));
tc.close();
c.close();
process.stdout.write(JSON.stringify(out));
`;
    const r = execFileSync(
      "nsenter",
      [
        `--net=/run/netns/${NS}`,
        process.execPath,
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        script,
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(JSON.parse(r)).toEqual({
      section: "tcx/ingress",
      egress:
        "LoadError: 'tcx_guard' is a tcx/ingress program, which attaches at ingress: direction \"egress\" contradicts its section; nothing was attached",
      link: ["tcx", "tc-ingress"],
      attached: true,
      egressIds: [],
      after: [],
      plain:
        'LoadError: \'egress_policy\' is in section tc, which names no hook; give attachTc a direction, "ingress" or "egress"',
    });
  }, 60_000);
});

function spawnQuiet(cmd: string[]): number {
  try {
    execFileSync(cmd[0]!, cmd.slice(1), { stdio: "ignore" });
    return 0;
  } catch (e) {
    return (e as { status?: number }).status ?? 1;
  }
}
