// `xdpc load --multi` beside xdp-loader, on a veth of a lab made here, in a private
// bpffs (libxdp keeps its dispatcher state under /sys/fs/bpf/xdp). Where the kernel runs
// libxdp's dispatcher, xdpc's filter joins xdp-loader's program in priority order,
// `xdpc status` lists both and `xdpc unload` removes only xdpc's. Where it does not (this
// machine: the freplace load is refused with EPERM, see docs/deploy.md §4), --multi
// fails in one line that says so, and what xdp-loader attached stays attached.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, repo } from "../cli/run.ts";
import { describeKernel } from "../support/kernel.ts";
import { compileBpfC } from "../differential/clang.ts";
import { bringUpLab, destroyLab, labSpec, netnsPath } from "../../runtime/lab/netns.ts";

const lab = labSpec("hdepm", 45);
let dir: string;
let remove: () => void;

const FILTER = `import { XdpContext, XdpAction, XDP_PASS } from "xdpc";
export const runConfig = { priority: 20, chainCallActions: [XDP_PASS] };
export function xdpc_multi(ctx: XdpContext): XdpAction {
  return XDP_PASS;
}
`;
const THEIRS = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(their_prog);
SEC("xdp")
int their_prog(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] SEC("license") = "GPL";
`;

/** Runs `steps` (one shell script) in the lab's network namespace with a private bpffs. */
function inLab(script: string): { status: number; out: string } {
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "nsenter",
      `--net=${netnsPath(lab.name)}`,
      "sh",
      "-c",
      `mount -t bpf bpf /sys/fs/bpf\n${script}`,
      "sh",
      process.execPath,
      BIN,
      lab.peerIf, // the lab's namespace side of the veth pair
      dir,
    ],
    { encoding: "utf8", cwd: repo, timeout: 60_000 },
  );
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

/** The text between `=== NAME` and the next marker. */
const part = (out: string, name: string) =>
  (out.split(`=== ${name}\n`)[1] ?? "").split("\n=== ")[0]!.trim();

describeKernel("xdpc load --multi beside xdp-loader", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "xdpct-multi-"));
    writeFileSync(join(dir, "multi.ts"), FILTER);
    writeFileSync(join(dir, "theirs.o"), compileBpfC({ source: THEIRS, name: "theirs" }));
    destroyLab(lab);
    remove = bringUpLab(lab);
  });
  afterAll(() => {
    remove?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it("joins the dispatcher where the kernel runs it; says why in one line where it does not, and leaves xdp-loader's program attached", () => {
    const r = inLab(
      [
        'echo "=== loader"; xdp-loader load -v -m skb "$3" "$4/theirs.o" 2>&1 | grep -i -E "dispatcher|error" || true',
        'echo "=== before"; "$1" "$2" status --json',
        'echo "=== multi"; "$1" "$2" load --multi --iface "$3" -m generic "$4/multi.ts" 2>&1; echo "exit $?"',
        'echo "=== after"; "$1" "$2" status --json',
        'echo "=== unload"; "$1" "$2" unload --iface "$3" 2>&1; echo "exit $?"',
        'echo "=== status"; xdp-loader status "$3" 2>&1',
        'echo "=== cleanup"; xdp-loader unload "$3" --all 2>&1; ip link set dev "$3" xdp off',
      ].join("\n"),
    );
    expect(r.status, r.out).toBe(0);
    const before = JSON.parse(part(r.out, "before")).filters;
    expect(before, r.out).toHaveLength(1);
    const fellBack = /Falling back to loading single prog without dispatcher/.test(
      part(r.out, "loader"),
    );
    const multi = part(r.out, "multi").split("\n");
    if (fellBack) {
      // No dispatcher on this kernel: xdp-loader attached their_prog alone.
      expect(before[0]).toMatchObject({ progName: "their_prog", mode: "generic" });
      expect(multi).toEqual([
        expect.stringMatching(
          /^xdpc: error: libxdp's dispatcher cannot run on this kernel: BPF_PROG_LOAD refuses its freplace program \(BPF_PROG_TYPE_EXT targeting an XDP program, as libxdp's compatibility check loads it\) with EPERM; nothing attached, hdepm1 keeps their_prog id \d+ \(attached alone\)$/,
        ),
        "exit 1",
      ]);
      // Theirs is untouched: same program, same id.
      const after = JSON.parse(part(r.out, "after")).filters;
      expect(after).toEqual(before);
    } else {
      expect(before[0]).toMatchObject({ progName: "xdp_dispatcher" });
      expect(multi.at(-1)).toBe("exit 0");
      const after = JSON.parse(part(r.out, "after")).filters;
      expect(after[0].dispatcher.map((p: { name: string }) => p.name)).toEqual([
        "their_prog",
        "xdpc_multi",
      ]);
      expect(after[0].dispatcher[1]).toMatchObject({
        priority: 20,
        chainCallActions: ["XDP_PASS"],
      });
      expect(part(r.out, "unload")).toMatch(
        /detached xdpc_multi id \d+ from libxdp's dispatcher; left their_prog/,
      );
      expect(part(r.out, "status")).toMatch(/their_prog/);
    }
  });
});
