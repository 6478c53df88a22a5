// `xdpc load / unload / status` end to end in a network namespace the test makes:
// attach, atomic replace (watched by a poller that must never see the interface
// without a program), pinned maps surviving a replace, failed replaces leaving the
// old program, concurrency, kill -9, and the one-line errors.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { closeFd } from "../../native/bpf.ts";
import { mapFdById, objGet } from "../../native/info.ts";
import { mapLookup, mapUpdate } from "../../native/object.ts";
import { tryLock } from "../../runtime/sys/lock.ts";
import {
  attachedId,
  attachedMode,
  buildObject,
  bundleScript,
  clangObject,
  destroyLab,
  hasClang,
  keyOf,
  makeLab,
  npmBuild,
  ROOT,
  spawnXdpc,
  xdpc,
  type Lab,
} from "./loader-support.ts";

const FW = "filters/lpm_firewall.ts";
const VLAN = "filters/vlan_filter.ts";

interface StatusJson {
  filters: {
    iface: string;
    progId: number;
    progName: string;
    mode: string;
    managed: boolean;
    params?: Record<string, string>;
    maps: { name: string; id: number; pinned?: string }[];
  }[];
}

describeKernel("xdpc load/unload/status", () => {
  let lab: Lab;
  const status = (): StatusJson => {
    const r = xdpc(lab, ["status", "--json"]);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as StatusJson;
  };
  const pinDir = () => join(lab.pinRoot, keyOf(lab));
  const stateDir = () => join(lab.runDir, "filters", keyOf(lab));
  const ok = (args: string[]) => {
    const r = xdpc(lab, args);
    expect(r.stderr.replace(/^xdpc: note: .*\n/gm, "")).toBe("");
    expect(r.code).toBe(0);
    return r;
  };
  /** Exit code and the whole stderr of a command that must fail with one line. */
  const fails = (args: string[], code: number) => {
    const r = xdpc(lab, args);
    expect(r.code).toBe(code);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    return r.stderr.trimEnd();
  };

  beforeAll(() => {
    npmBuild();
    lab = makeLab("ld");
  }, 120_000);
  afterAll(() => destroyLab(lab));

  it("loads a .ts filter; status and iproute2 agree; pins and state exist", () => {
    const r = ok(["load", "--iface", lab.iface, FW]);
    const id = attachedId(lab);
    expect(id).toBeGreaterThan(0);
    expect(attachedMode(lab)).toBe(1); // XDP_ATTACHED_DRV: native on veth
    expect(r.stdout).toContain(`${lab.iface}: lpm_firewall (id ${id}) attached in native mode`);
    const s = status().filters;
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({
      iface: lab.iface,
      progId: id,
      progName: "lpm_firewall",
      mode: "native",
      managed: true,
    });
    // xdpc_verdicts: `load` builds .ts inputs with verdict counters by default.
    expect(s[0]!.maps.map((m) => m.name).sort()).toEqual([
      "blocklist4",
      "blocklist6",
      "ruleStats",
      "xdpc_verdicts",
    ]);
    expect(s[0]!.maps.find((m) => m.name === "blocklist4")!.pinned).toBe(
      join(pinDir(), "maps", "blocklist4"),
    );
    expect(readdirSync(pinDir()).sort()).toEqual(["maps", "prog"]);
    expect(readdirSync(join(pinDir(), "maps")).sort()).toEqual(["blocklist4", "blocklist6"]);
    expect(readdirSync(stateDir()).sort()).toEqual([`filter-${id}.o`, "state.json"]);
    const text = xdpc(lab, ["status"]).stdout;
    expect(text).toContain(`${lab.iface} (ifindex `);
    expect(text).toMatch(/map blocklist4 id \d+ lpm_trie key 8B value 4B max 65536 pinned /);
  });

  it("--no-verdict-stats builds without the hidden verdict map", () => {
    ok(["load", "--iface", lab.iface, "--no-verdict-stats", FW]);
    expect(
      status()
        .filters[0]!.maps.map((m) => m.name)
        .sort(),
    ).toEqual(["blocklist4", "blocklist6", "ruleStats"]);
  });

  it("replaces atomically: the poller never sees the interface without a program, pinned contents survive", async () => {
    const before = attachedId(lab);
    const pinned = join(pinDir(), "maps", "blocklist4");
    const mapIdBefore = status().filters[0]!.maps.find((m) => m.name === "blocklist4")!.id;
    // 198.18.7.0/24 → rule 7, written through the pin as a user would.
    const fd = objGet(pinned);
    const key = new Uint8Array([24, 0, 0, 0, 198, 18, 7, 0]);
    try {
      mapUpdate(fd, key, new Uint8Array([7, 0, 0, 0]));
    } finally {
      closeFd(fd);
    }
    const stop = join(lab.tmp, "stop-poller");
    const pollerSrc = join(lab.tmp, "poller.ts");
    writeFileSync(
      pollerSrc,
      `import { xdpQuery } from "${ROOT}/native/xdp.ts";
import { ifNameToIndex } from "${ROOT}/native/ifname.ts";
import { existsSync } from "node:fs";
const idx = ifNameToIndex(process.argv[2]);
let polls = 0, empty = 0; const ids = new Set<number>();
process.stdout.write("ready\\n");
const poll = () => { const q = xdpQuery(idx); polls++; if (!q.drvProgId) empty++; else ids.add(q.drvProgId); };
while (!existsSync(process.argv[3])) poll();
poll(); // the last swap may land after this process's previous poll
process.stdout.write(JSON.stringify({ polls, empty, ids: [...ids] }) + "\\n");
`,
    );
    const poller = spawn(
      "nsenter",
      [`--net=/run/netns/${lab.ns}`, "node", "--import", "tsx", pollerSrc, lab.iface, stop],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    poller.stdout!.on("data", (d) => (out += d));
    const done = new Promise((r) => poller.on("exit", r));
    while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 20));
    const obj = buildObject(lab, FW, "fw.o");
    for (const input of [FW, obj, FW]) ok(["load", "--iface", lab.iface, input]);
    writeFileSync(stop, "");
    await done;
    const result = JSON.parse(out.split("\n")[1]!) as {
      polls: number;
      empty: number;
      ids: number[];
    };
    const after = attachedId(lab);
    expect(after).not.toBe(before);
    // How often it polled depends on the machine; that no poll found the slot empty does not.
    expect(result.polls).toBeGreaterThan(0);
    expect(result.empty).toBe(0);
    expect(result.ids).toContain(before);
    expect(result.ids).toContain(after);
    // Same pinned map object, same contents.
    expect(status().filters[0]!.maps.find((m) => m.name === "blocklist4")!.id).toBe(mapIdBefore);
    const fd2 = objGet(pinned);
    try {
      expect([...(mapLookup(fd2, key, 4) ?? [])]).toEqual([7, 0, 0, 0]);
    } finally {
      closeFd(fd2);
    }
    expect(readdirSync(pinDir()).sort()).toEqual(["maps", "prog"]);
    expect(readdirSync(stateDir()).sort()).toEqual([`filter-${after}.o`, "state.json"]);
  }, 60_000);

  it("sets parameters from --set and records them; bad --set changes nothing", () => {
    const old = attachedId(lab);
    const state = readFileSync(join(stateDir(), "state.json"), "utf8");
    expect(fails(["load", "--iface", lab.iface, VLAN, "--set", "vid=4096000"], 2)).toBe(
      "xdpc: error: value 4096000 is out of range for parameter 'vid: u16 = 100' (0..65535)",
    );
    expect(fails(["load", "--iface", lab.iface, VLAN, "--set", "vlan=3"], 2)).toBe(
      "xdpc: error: unknown parameter 'vlan' (parameters: vid: u16 = 100, allowUntagged: bool = true)",
    );
    expect(fails(["load", "--iface", lab.iface, VLAN, "--set", "allowUntagged=maybe"], 2)).toBe(
      "xdpc: error: invalid value 'maybe' for parameter 'allowUntagged: bool = true': expected true or false",
    );
    expect(fails(["load", "--iface", lab.iface, VLAN, "--set", "vid"], 2)).toBe(
      "xdpc: error: --set expects name=value, got 'vid'",
    );
    expect(fails(["load", "--iface", lab.iface, FW, "--set", "x=1"], 2)).toBe(
      "xdpc: error: unknown parameter 'x': this filter has no parameters",
    );
    expect(attachedId(lab)).toBe(old);
    expect(readFileSync(join(stateDir(), "state.json"), "utf8")).toBe(state);

    ok(["load", "--iface", lab.iface, VLAN, "--set", "vid=0x2a", "--set", "allowUntagged=false"]);
    const s = status().filters[0]!;
    expect(s.params).toEqual({ vid: "42", allowUntagged: "false" });
    // The kernel's .rodata holds them (vid: u16 at 0, allowUntagged at 2).
    const rodata = s.maps.find((m) => m.name.endsWith(".rodata"))!;
    const fd = mapFdById(rodata.id);
    try {
      expect([...(mapLookup(fd, new Uint8Array(4), 3) ?? [])]).toEqual([42, 0, 0]);
    } finally {
      closeFd(fd);
    }
    // Replacing the vlan filter by the firewall keeps the firewall's pinned maps around.
    ok(["load", "--iface", lab.iface, FW]);
  });

  it.skipIf(!hasClang)(
    "a verifier rejection is a diagnostic at the source line; the old program stays",
    () => {
      if (!attachedId(lab)) ok(["load", "--iface", lab.iface, FW]); // when run alone (-t)
      const old = attachedId(lab);
      const bad = clangObject(
        lab,
        "bad",
        `#include <linux/bpf.h>
#define SEC(x) __attribute__((section(x), used))
SEC("xdp")
int bad(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	if (data[12] == 0x08)
		return XDP_DROP;
	return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`,
      );
      const r = xdpc(lab, ["load", "--iface", lab.iface, bad]);
      expect(r.code).toBe(1);
      const lines = r.stderr.split("\n");
      expect(lines[0]).toMatch(
        /bad\.c:7:\d+: error XDP5001: invalid access to packet, off=12 size=1, .*R1 offset is outside of the packet$/,
      );
      expect(r.stderr).toContain("7 | \tif (data[12] == 0x08)");
      expect(r.stderr.trimEnd().split("\n").pop()).toBe(
        "xdpc: error: the kernel verifier rejected 'bad'; nothing was changed",
      );
      expect(attachedId(lab)).toBe(old);
      expect(readdirSync(pinDir()).sort()).toEqual(["maps", "prog"]);
      expect(readdirSync(stateDir()).sort()).toEqual([`filter-${old}.o`, "state.json"]);
    },
  );

  it("a .ts filter the verifier rejects is reported at its own line and column", () => {
    if (!attachedId(lab)) ok(["load", "--iface", lab.iface, FW]);
    const old = attachedId(lab);
    const file = join(lab.tmp, "big.ts");
    const src = `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, HashMap, u32, u64 } from "xdpc";
const seen = new HashMap<u32, u64>({ maxEntries: 1024 });
export function big(ctx: XdpContext): XdpAction {
  let n: u32 = 0;
  for (let i = 0; i < 200000; i++) {
    if (seen.lookup(i) !== null) n++;
  }
  return n > 0 ? XDP_DROP : XDP_PASS;
}
`;
    writeFileSync(file, src);
    const r = xdpc(lab, ["load", "--iface", lab.iface, file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split("\n");
    expect(lines[0]).toMatch(
      new RegExp(`^${file.replace(/[.]/g, "\\.")}:6:\\d+: error XDP5001: .*too complex`),
    );
    expect(lines[2]).toBe("6 |     if (seen.lookup(i) !== null) n++;");
    expect(lines[3]).toMatch(/^ {2}\| {4,}~+$/);
    expect(r.stderr.trimEnd().split("\n").pop()).toBe(
      "xdpc: error: the kernel verifier rejected 'big'; nothing was changed",
    );
    expect(attachedId(lab)).toBe(old);
  }, 60_000);

  it("refuses bad inputs with one line and a non-zero exit, changing nothing", () => {
    const old = attachedId(lab);
    expect(fails(["load", "--iface", "eth9", FW], 1)).toBe("xdpc: error: no such interface 'eth9'");
    const typo = join(lab.tmp, "typo.ts");
    writeFileSync(
      typo,
      'import { XdpContext, XdpAction, XDP_PASS } from "xdpc";\nexport function f(ctx: XdpContext): XdpAction {\n  const x: u16 = ctx.len;\n  return XDP_PASS;\n}\n',
    );
    const c = xdpc(lab, ["load", "--iface", lab.iface, typo]);
    expect(c.code).toBe(1);
    expect(c.stderr).toBe(
      `${typo}:3:12: error XDP2002: 'u16' is exported by "xdpc"; import it first\n\n3 |   const x: u16 = ctx.len;\n  |            ~~~\n\n` +
        `Found 1 error in 1 file.\nxdpc: error: ${typo}: 1 compile error; nothing was loaded\n`,
    );
    expect(fails(["unload", "--iface", "eth9"], 1)).toBe("xdpc: error: no such interface 'eth9'");
    expect(fails(["load", "--iface", lab.iface, "/etc/hostname"], 1)).toBe(
      "xdpc: error: '/etc/hostname' is not an ELF object file",
    );
    expect(fails(["load", "--iface", lab.iface, "nope.o"], 1)).toBe(
      "xdpc: error: cannot read 'nope.o': no such file",
    );
    const full = readFileSync(buildObject(lab, FW, "whole.o"));
    const cut = join(lab.tmp, "cut.o");
    writeFileSync(cut, full.subarray(0, Math.floor(full.length / 2)));
    expect(fails(["load", "--iface", lab.iface, cut], 1)).toMatch(
      /^xdpc: error: '.*cut\.o' is a corrupt eBPF object: /,
    );
    if (hasClang) {
      const x86 = clangObject(lab, "host", "int f(void) { return 1; }\n", "x86_64-linux-gnu");
      expect(fails(["load", "--iface", lab.iface, x86], 1)).toBe(
        `xdpc: error: '${x86}' is an ELF object for x86-64, not eBPF`,
      );
    }
    // lo has no native XDP: explicit native fails, the default falls back with a notice.
    expect(fails(["load", "--iface", "lo", FW, "--mode", "native"], 1)).toBe(
      "xdpc: error: 'lo' does not support XDP in native mode (its driver has no native XDP); use --mode generic",
    );
    expect(attachedId(lab, "lo")).toBe(0);
    // A mode switch cannot be atomic.
    expect(fails(["load", "--iface", lab.iface, FW, "--mode", "generic"], 1)).toBe(
      `xdpc: error: '${lab.iface}' runs its XDP program in native mode and a switch to generic mode cannot be atomic; unload first, or load with --mode native`,
    );
    // Privilege: name the capability that is missing.
    const capsh = (drop: string) =>
      spawnSyncIn(lab, [
        "capsh",
        `--drop=${drop}`,
        "--",
        "-c",
        `node bin/xdpc.js load --iface ${lab.iface} ${FW}`,
      ]);
    const noBpf = capsh("cap_bpf,cap_sys_admin");
    expect(noBpf.code).toBe(1);
    expect(noBpf.stderr).toBe(
      "xdpc: error: loading an XDP program needs CAP_BPF (run as root, or grant CAP_BPF)\n",
    );
    const noNet = capsh("cap_net_admin");
    expect(noNet.code).toBe(1);
    expect(noNet.stderr).toBe(
      "xdpc: error: loading an XDP program needs CAP_NET_ADMIN (run as root, or grant CAP_NET_ADMIN)\n",
    );
    expect(attachedId(lab)).toBe(old);
  });

  it("refuses a pinned map whose definition changed, names the program to pick, and unloads from a vanished interface", () => {
    const counter = (name: string, n: number) => {
      const f = join(lab.tmp, `${name}.ts`);
      writeFileSync(
        f,
        `import { XdpContext, XdpAction, XDP_PASS, HashMap, u32, u64 } from "xdpc";
const counts = new HashMap<u32, u64>({ maxEntries: ${n}, pinned: true });
export function ${name}(ctx: XdpContext): XdpAction {
  counts.increment(ctx.len);
  return XDP_PASS;
}
`,
      );
      return f;
    };
    spawnSyncIn(lab, ["ip", "link", "add", "xdpct2", "type", "veth", "peer", "name", "xdpct3"]);
    spawnSyncIn(lab, ["ip", "link", "set", "xdpct2", "up"]);
    spawnSyncIn(lab, ["ip", "link", "set", "xdpct3", "up"]);
    ok(["load", "--iface", "xdpct2", counter("small", 16)]);
    const id = attachedId(lab, "xdpct2");
    const pin = join(lab.pinRoot, keyOf(lab, "xdpct2"), "maps", "counts");
    expect(fails(["load", "--iface", "xdpct2", counter("large", 32)], 1)).toBe(
      `xdpc: error: pinned map 'counts' (${pin}) has a different definition than the one in 'large.ts'; \`xdpc unload\` first to discard its contents`,
    );
    expect(attachedId(lab, "xdpct2")).toBe(id);

    const two = join(lab.tmp, "two.ts");
    writeFileSync(
      two,
      `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP } from "xdpc";
export function first(ctx: XdpContext): XdpAction { return XDP_PASS; }
export function second(ctx: XdpContext): XdpAction { return XDP_DROP; }
`,
    );
    expect(fails(["load", "--iface", "xdpct2", two], 2)).toBe(
      `xdpc: error: '${two}' has 2 XDP programs (first, second); choose one with --program`,
    );
    expect(fails(["load", "--iface", "xdpct2", two, "--program", "third"], 2)).toBe(
      `xdpc: error: '${two}' has no XDP program 'third' (programs: first, second)`,
    );
    ok(["load", "--iface", "xdpct2", two, "--program", "second"]);
    expect(status().filters.find((f) => f.iface === "xdpct2")!.progName).toBe("second");

    // The interface disappears with the filter on it: unload still removes pins and state.
    const key = keyOf(lab, "xdpct2");
    spawnSyncIn(lab, ["ip", "link", "del", "xdpct2"]);
    const r = xdpc(lab, ["unload", "--iface", "xdpct2"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "xdpc: note: interface 'xdpct2' is gone; removed its xdpc pins and state\n",
    );
    expect(existsSync(join(lab.pinRoot, key))).toBe(false);
    expect(existsSync(join(lab.runDir, "filters", key))).toBe(false);
  });

  it("falls back to generic mode where native is unsupported, with a notice", () => {
    const r = xdpc(lab, ["load", "--iface", "lo", VLAN]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "xdpc: note: 'lo' has no native XDP support; attached in generic (skb) mode\n",
    );
    expect(attachedMode(lab, "lo")).toBe(2); // XDP_ATTACHED_SKB
    expect(
      status()
        .filters.map((f) => [f.iface, f.mode])
        .sort(),
    ).toEqual([
      ["lo", "generic"],
      [lab.iface, "native"],
    ]);
    ok(["unload", "--iface", "lo"]);
    expect(attachedId(lab, "lo")).toBe(0);
  });

  it("serializes concurrent loads: each succeeds or is refused with the lock message", async () => {
    const runs = await Promise.all(
      Array.from({ length: 5 }, () => {
        const p = spawnXdpc(lab, ["load", "--iface", lab.iface, FW]);
        let err = "";
        p.stderr!.on("data", (d) => (err += d));
        return new Promise<{ code: number | null; err: string }>((r) =>
          p.on("exit", (code) => r({ code, err })),
        );
      }),
    );
    for (const r of runs) {
      if (r.code !== 0) {
        expect(r.code).toBe(1);
        expect(r.err).toMatch(
          /^xdpc: error: another xdpc load or unload is running on 'xdpct0'( \(pid \d+\))?; try again when it has finished\n$/,
        );
      }
    }
    expect(runs.some((r) => r.code === 0)).toBe(true);
    // Deterministically: while this process holds the interface lock, a load is refused and changes nothing.
    const held = tryLock(join(lab.runDir, "locks"), keyOf(lab));
    if (!("lock" in held)) throw new Error("lock unexpectedly busy");
    try {
      const id = attachedId(lab);
      expect(fails(["load", "--iface", lab.iface, VLAN], 1)).toBe(
        `xdpc: error: another xdpc load or unload is running on '${lab.iface}' (pid ${process.pid}); try again when it has finished`,
      );
      expect(fails(["unload", "--iface", lab.iface], 1)).toContain(
        "another xdpc load or unload is running",
      );
      expect(attachedId(lab)).toBe(id);
    } finally {
      held.lock.release();
    }
    const s = status().filters.find((f) => f.iface === lab.iface)!;
    expect(s.progId).toBe(attachedId(lab));
    expect(s.managed).toBe(true);
    expect(readdirSync(pinDir()).sort()).toEqual(["maps", "prog"]);
    expect(readdirSync(stateDir()).sort()).toEqual([`filter-${s.progId}.o`, "state.json"]);
  }, 60_000);

  it("survives kill -9 at random points: old or new attached, then load and unload clean up", async () => {
    for (let i = 0; i < 8; i++) {
      const before = attachedId(lab);
      const p = spawnXdpc(lab, ["load", "--iface", lab.iface, i % 2 ? FW : VLAN]);
      const exited = new Promise((r) => p.on("exit", r));
      await new Promise((r) => setTimeout(r, 40 + Math.random() * 400));
      p.kill("SIGKILL");
      await exited;
      const now = attachedId(lab);
      expect(now).toBeGreaterThan(0); // never detached
      const s = status().filters.find((f) => f.iface === lab.iface)!;
      expect(s.progId).toBe(now);
      expect(s.managed).toBe(true); // old (its pin) or new (its pending pin/record)
      if (now !== before) expect(["lpm_firewall", "vlan_filter"]).toContain(s.progName);
    }
    ok(["load", "--iface", lab.iface, FW]);
    const id = attachedId(lab);
    expect(readdirSync(pinDir()).sort()).toEqual(["maps", "prog"]);
    expect(readdirSync(stateDir()).sort()).toEqual([`filter-${id}.o`, "state.json"]);
  }, 120_000);

  it("mounts bpffs at /sys/fs/bpf when it is missing (private mount namespace)", () => {
    const r = spawnSyncIn(lab, [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `umount /sys/fs/bpf && node bin/xdpc.js load --iface lo --mode generic ${VLAN} --pin-root /sys/fs/bpf/xdpc && stat -f -c %T /sys/fs/bpf && ls /sys/fs/bpf/xdpc/*`,
    ]);
    expect(r.stderr).toBe("xdpc: note: mounted bpffs at /sys/fs/bpf\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^lo: vlan_filter \(id \d+\) attached in generic mode.*\nbpf_fs\nmaps\nprog\n$/,
    );
    // The pins died with that mount namespace; the attachment did not, and unload still cleans up.
    expect(attachedId(lab, "lo")).toBeGreaterThan(0);
    expect(status().filters.find((f) => f.iface === "lo")!.managed).toBe(true);
    ok(["unload", "--iface", "lo"]);
    expect(attachedId(lab, "lo")).toBe(0);
    expect(
      readdirSync(join(lab.runDir, "filters")).filter((e) => e === "lo" || e.startsWith("lo@ns")),
    ).toEqual([]);
    expect(fails(["load", "--iface", "lo", VLAN, "--pin-root", lab.tmp], 1)).toBe(
      `xdpc: error: pin root '${lab.tmp}' is not on a BPF filesystem (mount -t bpf bpf /sys/fs/bpf)`,
    );
  });

  it("leaves programs other tools attached alone unless --force; unload removes them with a notice", () => {
    const obj = buildObject(lab, VLAN, "ip.o");
    // iproute2 makes /sys/fs/bpf/{tc,ip,xdp} on its first object load: give it a
    // private bpffs in a throwaway mount namespace (the attachment outlives both).
    const ipAttach = () =>
      spawnSyncIn(lab, [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount -t bpf bpf /sys/fs/bpf && ip link set dev lo xdpgeneric obj ${obj} sec xdp`,
      ]);
    const ip = ipAttach();
    expect(ip.stderr).toBe("");
    expect(ip.code).toBe(0);
    const foreign = attachedId(lab, "lo");
    expect(foreign).toBeGreaterThan(0);
    expect(status().filters.find((f) => f.iface === "lo")).toMatchObject({
      progId: foreign,
      managed: false,
      progName: "vlan_filter",
    });
    expect(fails(["load", "--iface", "lo", FW], 1)).toBe(
      `xdpc: error: 'lo' runs XDP program id ${foreign} that xdpc did not load; \`xdpc unload --iface lo\` removes it, or pass --force to replace it`,
    );
    expect(attachedId(lab, "lo")).toBe(foreign);
    const forced = xdpc(lab, ["load", "--iface", "lo", FW, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toBe(
      `xdpc: note: replaced program id ${foreign} on 'lo' (generic mode)\n`,
    );
    expect(status().filters.find((f) => f.iface === "lo")!.managed).toBe(true);
    ok(["unload", "--iface", "lo"]);
    expect(ipAttach().code).toBe(0);
    const again = attachedId(lab, "lo");
    const r = xdpc(lab, ["unload", "--iface", "lo"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `xdpc: note: detached XDP program id ${again}, which xdpc did not load\n`,
    );
    expect(attachedId(lab, "lo")).toBe(0);
  });

  it("a crash at each step of a replace leaves old or new attached, and the next load or unload repairs the files", () => {
    if (!attachedId(lab)) ok(["load", "--iface", lab.iface, FW]);
    const cases = [
      { at: "loaded", attached: "old" },
      { at: "staged", attached: "old" },
      { at: "attached", attached: "new" },
      { at: "pin-committed", attached: "new" },
    ] as const;
    for (const [i, c] of cases.entries()) {
      const old = attachedId(lab);
      const r = xdpc(lab, ["load", "--iface", lab.iface, VLAN], { XDPC_CRASH_AT: c.at });
      expect(r.signal ?? r.code).toBe("SIGKILL");
      const now = attachedId(lab);
      if (c.attached === "old") expect(now).toBe(old);
      else expect(now).not.toBe(old);
      const s = status().filters.find((f) => f.iface === lab.iface)!;
      expect(s).toMatchObject({
        progId: now,
        managed: true,
        progName: c.attached === "old" ? "lpm_firewall" : "vlan_filter",
      });
      // The crashed load's object copy / pending files are still there...
      if (c.at !== "loaded") expect(readdirSync(stateDir()).length).toBeGreaterThan(2);
      // ...until the next load (even cases) or unload (odd cases) reconciles them.
      if (i % 2 === 0) {
        ok(["load", "--iface", lab.iface, FW]);
        const id = attachedId(lab);
        expect(readdirSync(pinDir()).sort()).toEqual(["maps", "prog"]);
        expect(readdirSync(stateDir()).sort()).toEqual([`filter-${id}.o`, "state.json"]);
      } else {
        ok(["unload", "--iface", lab.iface]);
        expect(attachedId(lab)).toBe(0);
        expect(existsSync(pinDir())).toBe(false);
        expect(existsSync(stateDir())).toBe(false);
        ok(["load", "--iface", lab.iface, FW]);
      }
    }
  }, 120_000);

  it("unload detaches and removes pins and state; a second unload says nothing is attached", () => {
    const r = ok(["unload", "--iface", lab.iface]);
    expect(r.stdout).toMatch(
      new RegExp(`^${lab.iface}: detached id \\d+ \\(native\\); removed \\d+ pin/state paths\\n$`),
    );
    expect(attachedId(lab)).toBe(0);
    expect(existsSync(pinDir())).toBe(false);
    expect(existsSync(stateDir())).toBe(false);
    expect(status().filters).toEqual([]);
    expect(fails(["unload", "--iface", lab.iface], 1)).toBe(
      `xdpc: error: no XDP program is attached to '${lab.iface}'`,
    );
  });

  it("leaks no file descriptors across load, replace and unload in one process", async () => {
    const script = join(lab.tmp, "fds.ts");
    writeFileSync(
      script,
      `import { loadFilter, unloadFilter } from "${ROOT}/runtime/load/loader.ts";
import { filterInput } from "${ROOT}/runtime/cli/filter.ts";
import { readdirSync, readlinkSync } from "node:fs";
const fds = () => new Map(readdirSync("/proc/self/fd").map((f) => { try { return [f, readlinkSync("/proc/self/fd/" + f)]; } catch { return [f, "?"]; } }));
const count = () => fds().size;
loadFilter({ iface: "${lab.iface}", input: filterInput("${ROOT}/${FW}") }); unloadFilter("${lab.iface}"); // warm up lazy handles
const seen = fds();
const before = seen.size;
for (let i = 0; i < 3; i++) {
  loadFilter({ iface: "${lab.iface}", input: filterInput("${ROOT}/${FW}") });
  loadFilter({ iface: "${lab.iface}", input: filterInput("${ROOT}/${VLAN}"), params: { vid: "5" } });
  unloadFilter("${lab.iface}");
}
const leaked = [...fds()].filter(([f, t]) => !seen.has(f) || seen.get(f) !== t).map(([f, t]) => f + " -> " + t);
process.stdout.write(JSON.stringify({ before, after: count(), leaked }));
`,
    );
    const bundle = await bundleScript(lab, "fds", readFileSync(script, "utf8"));
    const r = spawnSyncIn(lab, ["node", bundle], { NODE_PATH: join(ROOT, "node_modules") });
    expect(r.stderr).toBe("");
    const { before, after, leaked } = JSON.parse(r.stdout) as {
      before: number;
      after: number;
      leaked: string[];
    };
    // Every descriptor open now was open before, pointing at the same thing (BPF objects included).
    expect(leaked).toEqual([]);
    expect(after).toBeGreaterThan(0);
    expect(before).toBeGreaterThan(0);
    expect(attachedId(lab)).toBe(0);
  }, 60_000);
});

/** Runs a command inside the lab's namespace with the lab's environment. */
function spawnSyncIn(lab: Lab, argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync("nsenter", [`--net=/run/netns/${lab.ns}`, ...argv], {
    cwd: ROOT,
    env: { ...lab.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
