// `xdpc run` as a process: it loads the filter, runs the handler in workers, and on
// SIGTERM handles what has arrived, prints its counters and unloads; after a kill -9 the
// program stays attached and its fallback applies (the XskMap entries died with the
// sockets), and the next `xdpc run` replaces it. Waits are for counts, bounded.
import { expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { buildFrame } from "../../runtime/packets/build.ts";
import { attachedProgramId } from "../../runtime/observe/maps.ts";
import { describeKernel } from "../support/kernel.ts";
import { until } from "../support/wait.ts";
import { ROOT } from "../runtime/loader-support.ts";
import { STEER, useRunLab } from "./support.ts";

describeKernel("xdpc run", () => {
  const L = useRunLab({
    name: "xskr",
    index: 10,
    queues: 2,
    source: STEER,
    pinRoot: `/sys/fs/bpf/xdpct-xskrun-${process.pid}`,
  });
  const { lab, env, file, pinRoot, tmp } = L;

  const frame = buildFrame({
    srcMac: lab.peerMac,
    dstMac: lab.hostMac,
    src: lab.peerAddr,
    dst: lab.hostAddr,
    l4: { proto: "udp", sport: 4000, dport: 9 },
  });
  const run = () => L.run();

  it.skipIf(availableParallelism() < 2)(
    "kill -9 leaves the program with its fallback; a new run replaces it; SIGTERM reports and unloads",
    async () => {
      const first = await run();
      expect(first.lines[0]).toMatchObject({
        event: "running",
        handler: "echo",
        queues: [0, 1],
        workers: 2,
        zeroCopy: false,
      });
      const progId = first.lines[0]!.progId as number;
      first.child.kill("SIGKILL");
      expect(await first.exit).toBe(-1);
      // The sockets died with the process: the program's fallback (XDP_PASS) applies.
      expect(attachedProgramId(lab.hostIf)).toBe(progId);
      L.gen.send(frame, 100, undefined, 0);
      expect(L.counter("fallback")).toBe(100);
      expect(L.counter("redirected")).toBe(0);

      const second = await run();
      expect(second.lines[0]!.progId).not.toBe(progId); // replaced atomically
      L.gen.send(frame, 300, undefined, 0);
      L.gen.send(frame, 200, undefined, 1);
      await until(() => L.counter("redirected") === 500, 30_000, "500 redirected frames");
      expect(L.counter("fallback")).toBe(0);
      second.child.kill("SIGTERM");
      expect(await second.exit).toBe(0);
      const stopped = second.lines.find((l) => l.event === "stopped")!;
      expect(stopped).toMatchObject({
        signal: "SIGTERM",
        queues: [
          { queue: 0, rx: 300, drop: 300, tx: 0, kernelDrops: 0 },
          { queue: 1, rx: 200, drop: 200, tx: 0, kernelDrops: 0 },
        ],
      });
      // Nothing left: no program, no pins, no record.
      expect(attachedProgramId(lab.hostIf)).toBe(0);
      expect(existsSync(pinRoot) ? readdirSync(pinRoot) : []).toEqual([]);
      const filters = join(tmp, "run", "filters");
      expect(existsSync(filters) ? readdirSync(filters) : []).toEqual([]);
    },
  );

  it("refuses a filter without a handler, and a map both halves use, in one line", async () => {
    const plain = join(tmp, "plain.ts");
    writeFileSync(
      plain,
      `import { XdpContext, XdpAction, XDP_PASS } from "xdpc";\nexport function p(ctx: XdpContext): XdpAction { return XDP_PASS; }\n`,
    );
    const child = spawn("node", [join(ROOT, "bin/xdpc.js"), "run", "--iface", lab.hostIf, plain], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toBe(
      `xdpc: error: '${plain}' has no XskMap bound to a handler; use xdpc load for a kernel-only filter\n`,
    );
    expect(attachedProgramId(lab.hostIf)).toBe(0);

    // A map both halves use would be two maps (kernel, Wasm memory): the compiler refuses it.
    const both = join(tmp, "both.ts");
    writeFileSync(
      both,
      STEER.replace(
        "const redirected =",
        "const seen = new ArrayMap<u64>({ maxEntries: 1 });\nconst redirected =",
      )
        .replace("const r = sockets.redirect", "seen.increment(0);\n  const r = sockets.redirect")
        .replace(
          "export function echo(pkt: XskPacket): XskVerdict {",
          "export function echo(pkt: XskPacket): XskVerdict {\n  seen.increment(0);",
        ),
    );
    const c2 = spawn("node", [join(ROOT, "bin/xdpc.js"), "run", "--iface", lab.hostIf, both], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err2 = "";
    c2.stderr!.on("data", (d: Buffer) => (err2 += d.toString()));
    expect(await new Promise<number | null>((resolve) => c2.on("exit", resolve))).toBe(1);
    expect(err2.split("\n")[0]).toBe(
      `${both}:17:3: error XDP3053: map 'seen' is used by XDP program 'steer' and by AF_XDP handler 'echo': the program's map is a kernel map, the handler's lives in its Wasm memory, and nothing keeps the two in step; give each side its own map`,
    );
    expect(attachedProgramId(lab.hostIf)).toBe(0);
  });
});
