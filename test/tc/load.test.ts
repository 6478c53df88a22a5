// `xdpc load --tc ingress|egress` in a lab namespace with live frames: a tcx link
// (this kernel has tcx) and the clsact path older kernels take (XDPC_TC_ATTACH=clsact),
// each loaded, observed through `xdpc map --tc`, replaced atomically, listed by
// `xdpc status` and unloaded leaving nothing behind; a kill -9 mid-load is finished or
// rolled back by the next command.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import {
  destroyLab,
  liveTraffic,
  makeLab,
  npmBuild,
  ROOT,
  xdpc,
  type Lab,
} from "../runtime/loader-support.ts";

const FILTER = join(ROOT, "filters/tc/egress_policy.ts");
const POLICY = '{"mark":5,"priority":0,"drop":0}';

interface Status {
  filters: {
    iface: string;
    hook?: string;
    mode: string;
    progId: number;
    managed: boolean;
    params?: Record<string, string>;
  }[];
}

describeKernel("xdpc load --tc", () => {
  let lab: Lab;
  beforeAll(() => {
    npmBuild();
    lab = makeLab("tc");
    // The generator's live frames reach a veth only through its NAPI, which runs while
    // an XDP program is attached: an XDP filter that passes everything, beside the tc one.
    const pass = join(lab.tmp, "passall.ts");
    writeFileSync(
      pass,
      `import { XdpContext, XdpAction, XDP_PASS } from "xdpc";\nexport function passall(ctx: XdpContext): XdpAction { return XDP_PASS; }\n`,
    );
    ok(["load", "--iface", lab.iface, pass]);
  }, 120_000);
  afterAll(() => destroyLab(lab));

  const status = (env = {}) => {
    const r = xdpc(lab, ["status", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Status).filters.filter((f) => f.hook);
  };
  const tcFilters = (dir: string) =>
    execFileSync(
      "nsenter",
      [`--net=/run/netns/${lab.ns}`, "tc", "filter", "show", "dev", lab.iface, dir],
      { encoding: "utf8" },
    );
  const ok = (args: string[], env = {}) => {
    const r = xdpc(lab, args, env);
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  /** xdpc's files for tc hooks (the XDP filter's stay). */
  const leftovers = () =>
    [
      ...(existsSync(lab.pinRoot) ? readdirSync(lab.pinRoot) : []),
      ...(existsSync(join(lab.runDir, "filters")) ? readdirSync(join(lab.runDir, "filters")) : []),
    ].filter((f) => f.includes(":tc-"));

  for (const [mode, env] of [
    ["tcx", {}],
    ["clsact", { XDPC_TC_ATTACH: "clsact" }],
  ] as const) {
    describe(mode, () => {
      it("loads, counts every frame, replaces in place, unloads without leftovers", async () => {
        const first = ok(["load", "--iface", lab.iface, "--tc", "ingress", FILTER], env);
        expect(first.stdout).toMatch(
          new RegExp(`^${lab.iface} ingress: egress_policy \\(id (\\d+)\\) attached by ${mode}`),
        );
        const [s1] = status();
        expect(status().length).toBe(1);
        expect(s1).toMatchObject({ hook: "tc-ingress", mode, managed: true });
        if (mode === "clsact") expect(tcFilters("ingress")).toMatch(/egress_policy.*direct-action/);
        else expect(tcFilters("ingress")).not.toContain("egress_policy");

        ok(["map", "set", "--iface", lab.iface, "--tc", "ingress", "policies", "9", POLICY]);
        expect((await liveTraffic(lab, { count: 1000 })).sent).toBe(1000);
        // perMark counts per mark: 1000 frames, all with dport 9 → mark 5.
        const dump = ok([
          "map",
          "dump",
          "--iface",
          lab.iface,
          "--tc",
          "ingress",
          "perMark",
          "--json",
        ]);
        expect(JSON.parse(dump.stdout)).toEqual([{ key: 5, value: 1000 }]);

        // Replace: a new program behind the same attachment, with a parameter set.
        const again = xdpc(
          lab,
          ["load", "--iface", lab.iface, "--tc", "ingress", FILTER, "--set", "efPriority=3"],
          env,
        );
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toContain(
          `replaced program id ${s1!.progId} at ${lab.iface} ingress (${mode})`,
        );
        const after = status();
        expect(after.length).toBe(1);
        expect(after[0]).toMatchObject({ hook: "tc-ingress", mode, params: { efPriority: "3" } });
        expect(after[0]!.progId).not.toBe(s1!.progId);
        ok(["map", "set", "--iface", lab.iface, "--tc", "ingress", "policies", "9", POLICY]);
        expect((await liveTraffic(lab, { count: 300 })).sent).toBe(300);
        const dump2 = ok([
          "map",
          "dump",
          "--iface",
          lab.iface,
          "--tc",
          "ingress",
          "perMark",
          "--json",
        ]);
        expect(JSON.parse(dump2.stdout)).toEqual([{ key: 5, value: 300 }]);

        const un = ok(["unload", "--iface", lab.iface, "--tc", "ingress"]);
        expect(un.stdout).toContain(`detached id ${after[0]!.progId} (${mode})`);
        expect(status()).toEqual([]);
        expect(tcFilters("ingress")).not.toContain("egress_policy");
        expect(leftovers()).toEqual([]);
      }, 120_000);
    });
  }

  it("a kill -9 after the attach is committed by the next load; unload then leaves nothing", () => {
    const crashed = xdpc(lab, ["load", "--iface", lab.iface, "--tc", "egress", FILTER], {
      XDPC_CRASH_AT: "attached",
    });
    expect(crashed.signal).toBe("SIGKILL");
    // The link was pinned before the crash: the program runs, and xdpc knows it as its own.
    const [s] = status();
    expect(s).toMatchObject({ hook: "tc-egress", mode: "tcx", managed: true });
    const again = ok(["load", "--iface", lab.iface, "--tc", "egress", FILTER]);
    expect(again.stderr).toContain(`replaced program id ${s!.progId}`);
    expect(status().length).toBe(1);
    ok(["unload", "--iface", lab.iface, "--tc", "egress"]);
    expect(status()).toEqual([]);
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it("a kill -9 before the link is pinned leaves nothing attached", () => {
    const crashed = xdpc(lab, ["load", "--iface", lab.iface, "--tc", "egress", FILTER], {
      XDPC_CRASH_AT: "staged",
    });
    expect(crashed.signal).toBe("SIGKILL");
    expect(status()).toEqual([]);
    const un = xdpc(lab, ["unload", "--iface", lab.iface, "--tc", "egress"]);
    // The staged files are cleaned up; nothing was attached.
    expect(un.code, un.stderr).toBe(0);
    expect(un.stdout).toContain("nothing attached");
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it("refuses XDP-only flags and reports an empty hook in one line", () => {
    const mode = xdpc(lab, [
      "load",
      "--iface",
      lab.iface,
      "--tc",
      "ingress",
      "--mode",
      "native",
      FILTER,
    ]);
    expect([mode.code, mode.stderr.trim().split("\n").length]).toEqual([2, 1]);
    expect(mode.stderr).toContain("--mode applies to XDP programs");
    const none = xdpc(lab, ["unload", "--iface", lab.iface, "--tc", "egress"]);
    expect([none.code, none.stderr.trim()]).toEqual([
      1,
      `xdpc: error: xdpc has no tc program at ${lab.iface} egress`,
    ]);
    const xdp = xdpc(lab, [
      "load",
      "--iface",
      lab.iface,
      join(ROOT, "filters/icmp_echo.ts"),
      "--tc",
      "egress",
    ]);
    expect([xdp.code, xdp.stderr.trim().split("\n").length]).toEqual([2, 1]);
    expect(xdp.stderr).toContain("has no tc program");
    const get = xdpc(lab, ["map", "get", "--iface", lab.iface, "--tc", "ingress", "perMark", "5"]);
    expect([get.code, get.stderr.trim()]).toEqual([
      1,
      `xdpc: error: no tc program is attached at ${lab.iface} ingress`,
    ]);
  });
});
