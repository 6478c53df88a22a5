// Replace under live traffic: the generator (BPF_PROG_TEST_RUN live frames) sends
// into a veth while `xdpc load` swaps one drop-everything filter for another, again
// and again. Every frame must meet a program (a pinned counter both filters share
// equals the frames sent) and none may reach the stack (the namespace's Ip InReceives
// unchanged). A pass-everything run first shows that InReceives counts every frame that does.
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { closeFd } from "../../native/bpf.ts";
import { objGet } from "../../native/info.ts";
import { mapLookup } from "../../native/object.ts";
import {
  attachedId,
  destroyLab,
  keyOf,
  liveTraffic,
  makeLab,
  npmBuild,
  ipInReceives,
  spawnXdpc,
  xdpc,
  type Lab,
  type LiveTrafficOptions,
} from "./loader-support.ts";

const filter = (
  name: string,
  verdict: "XDP_DROP" | "XDP_PASS",
) => `import { XdpContext, XdpAction, ${verdict}, ArrayMap, u64 } from "xdpc";
const seen = new ArrayMap<u64>({ maxEntries: 1, pinned: true });
export function ${name}(ctx: XdpContext): XdpAction {
  seen.increment(0);
  return ${verdict};
}
`;

/** Waits for `cond`, polling; fails with `what` after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeKernel("replace under live traffic", () => {
  let lab: Lab;
  const files: Record<string, string> = {};
  beforeAll(() => {
    npmBuild();
    lab = makeLab("lv");
    for (const [n, v] of [
      ["dropa", "XDP_DROP"],
      ["dropb", "XDP_DROP"],
      ["passall", "XDP_PASS"],
    ] as const) {
      files[n] = join(lab.tmp, `${n}.ts`);
      writeFileSync(files[n]!, filter(n, v));
    }
  }, 120_000);
  afterAll(() => destroyLab(lab));

  const generate = (opts: LiveTrafficOptions) => liveTraffic(lab, opts);

  const seen = () => {
    const fd = objGet(join(lab.pinRoot, keyOf(lab), "maps", "seen"));
    try {
      return new DataView(mapLookup(fd, new Uint8Array(4), 8)!.buffer).getBigUint64(0, true);
    } finally {
      closeFd(fd);
    }
  };
  const load = (file: string) =>
    new Promise<number | null>((resolve) =>
      spawnXdpc(lab, ["load", "--iface", lab.iface, file]).on("exit", resolve),
    );

  it("no frame reaches the stack and none misses a program while filters are swapped", async () => {
    // Control: with a pass-everything filter the stack sees every frame.
    expect(xdpc(lab, ["load", "--iface", lab.iface, files.passall!]).code).toBe(0);
    const rx0 = ipInReceives(lab);
    const control = await generate({ count: 20_000 });
    expect(control.sent).toBe(20_000);
    expect(ipInReceives(lab) - rx0).toBe(20_000);
    expect(seen()).toBe(20_000n);
    expect(xdpc(lab, ["unload", "--iface", lab.iface]).code).toBe(0);

    expect(xdpc(lab, ["load", "--iface", lab.iface, files.dropa!]).code).toBe(0);
    const rx1 = ipInReceives(lab);
    const seen1 = seen();
    const ids = new Set([attachedId(lab)]);
    // Traffic runs until told to stop; the swaps start once frames are flowing, and the
    // traffic stops after the last swap, so every swap happens under load however slow
    // the machine is (no duration to outlast).
    const stopFile = join(lab.tmp, "stop-traffic");
    const traffic = generate({ durationMs: 600_000, chunk: 50_000, stopFile });
    const SWAPS = 4;
    const codes: (number | null)[] = [];
    let report: { sent: number };
    try {
      await until(() => seen() > seen1, 60_000, "the generator's first frames");
      for (let i = 0; i < SWAPS; i++) {
        codes.push(await load(i % 2 ? files.dropa! : files.dropb!));
        ids.add(attachedId(lab));
      }
    } finally {
      writeFileSync(stopFile, "");
      report = await traffic;
    }
    expect(codes).toEqual(Array(SWAPS).fill(0));
    // Every replace attached a new program: the first and one per swap.
    expect(ids.size).toBe(SWAPS + 1);
    expect(report.sent).toBeGreaterThan(0);
    expect(seen() - seen1).toBe(BigInt(report.sent));
    expect(ipInReceives(lab) - rx1).toBe(0);
    expect(xdpc(lab, ["unload", "--iface", lab.iface]).code).toBe(0);
  }, 120_000);
});
