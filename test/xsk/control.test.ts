// The control socket of `xdpc run`: a root-only Unix socket per interface through which
// `xdpc map` reaches the handler's maps (in the workers' shared memory) and `xdpc stats`
// the per-queue and per-worker verdict counters, while the run goes on. A live run
// refuses a second one on the same interface; SIGTERM removes the socket; a kill -9
// leaves a stale one that `xdpc map` ignores and the next run (or `xdpc unload`) removes.
// Lab index 41, 2 queues, two workers; waits are for counts, bounded; counts exact.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createLab, destroyLab, labSpec, type LabSpec } from "../../runtime/lab/netns.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { attachedProgramId } from "../../runtime/observe/maps.ts";
import { describeKernel } from "../support/kernel.ts";
import { COUNTING as SOURCE, startRun, type RunProcess } from "./support.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { ControlClient } from "../../runtime/xsk/control.ts";
import { npmBuild, ROOT } from "../runtime/loader-support.ts";

// A client as another user: sends a hello, prints every line it gets, then "closed".
const NOBODY_PEER = `const s = require("node:net").connect(process.argv[1]);
let buf = "";
s.on("connect", () => s.write(JSON.stringify({ op: "hello" }) + "\\n"));
s.on("data", (d) => (buf += d));
s.on("close", () => process.stdout.write(buf + "closed\\n"));
s.on("error", (e) => process.stderr.write(e.message));`;

describeKernel("xdpc run's control socket: xdpc map and xdpc stats", () => {
  const lab: LabSpec = { ...labSpec("hxskc", 41), queues: 2 };
  const tmp = mkdtempSync(join(tmpdir(), "xdpc-xskctl-"));
  const pinRoot = `/sys/fs/bpf/xdpc-xsk-ctl-${process.pid}`;
  const runDir = join(tmp, "run");
  const env = { ...process.env, XDPC_PIN_ROOT: pinRoot, XDPC_RUN_DIR: runDir };
  const file = join(tmp, "count.ts");
  const sock = join(runDir, "xsk", `${lab.hostIf}.sock`);
  const children: ChildProcess[] = [];
  let gen: TrafficGenerator;

  const xdpc = (...args: string[]) => {
    const r = spawnSync("node", [join(ROOT, "bin/xdpc.js"), ...args], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const json = (...args: string[]) => {
    const r = xdpc(...args);
    if (r.code !== 0) throw new Error(`xdpc ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };
  /** A map's entries by `xdpc map dump`, in key order (a hash iterates in bucket order). */
  const dump = (name: string) =>
    (json("map", "dump", name, "--iface", lab.hostIf, "--json") as { key: number }[]).sort(
      (a, b) => a.key - b.key,
    );
  /** The handler's per-queue counters, from `xdpc stats` (one interval). */
  const stats = () => {
    const r = xdpc("stats", "--iface", lab.hostIf, "--json", "-n", "1", "--interval", "50");
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as {
      handler: {
        name: string;
        queues: { queue: number; worker: number; rx: { total: number }; drop: { total: number } }[];
        workers: { worker: number; queues: number[]; rx: { total: number }; restarts: number }[];
      };
    };
  };
  // Waiting polls the socket in-process (a CLI start per poll would be slow).
  let client: ControlClient | null = null;
  const rx = async (q: number) => {
    client ??= await ControlClient.open(sock);
    return (await client!.stats()).queues.find((x) => x.queue === q)!.rx;
  };
  const frame = (sport: number) =>
    buildFrame({
      srcMac: lab.peerMac,
      dstMac: lab.hostMac,
      src: lab.peerAddr,
      dst: lab.hostAddr,
      l4: { proto: "udp", sport, dport: 9 },
    });
  /** n frames of source port `sport` from CPU `cpu` (its queue), waited for. */
  const send = async (sport: number, cpu: number, n: number) => {
    const want = (await rx(cpu)) + BigInt(n);
    gen.send(frame(sport), n, undefined, cpu);
    let seen = 0n;
    const end = Date.now() + 30_000;
    while ((seen = await rx(cpu)) < want) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${want} frames on queue ${cpu}`);
      await sleep(20);
    }
    expect(seen).toBe(want);
  };

  const run = async (): Promise<RunProcess> => {
    const r = await startRun(["--iface", lab.hostIf, "--workers", "2", file], env);
    children.push(r.child);
    return r;
  };
  /** Ends the test's own connection (before the run it reached stops). */
  const disconnect = () => {
    client?.close();
    client = null;
  };

  beforeAll(() => {
    npmBuild();
    destroyLab(lab);
    createLab(lab);
    writeFileSync(file, SOURCE);
    gen = new TrafficGenerator(lab.name, lab.peerIf);
  }, 120_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    gen?.close();
    destroyLab(lab);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  describe.skipIf(availableParallelism() < 2)("with two workers", () => {
    it("xdpc map and xdpc stats reach the handler's maps and counters of the running run", async () => {
      const r = await run();
      try {
        expect(r.lines[0]).toMatchObject({ event: "running", workers: 2, control: sock });
        // Root only: the socket 0600, its directory 0700, both root's.
        const st = statSync(sock);
        expect(st.isSocket()).toBe(true);
        expect([st.mode & 0o777, st.uid]).toEqual([0o600, 0]);
        expect(statSync(join(runDir, "xsk")).mode & 0o777).toBe(0o700);
        // And SO_PEERCRED: with the modes loosened, a peer of uid nobody that sends a
        // request gets one refusal line and the connection ends; root is still served.
        for (const d of [tmp, runDir, join(runDir, "xsk")]) chmodSync(d, 0o755);
        chmodSync(sock, 0o666);
        try {
          const peer = spawnSync("node", ["-e", NOBODY_PEER, sock], {
            uid: 65534,
            gid: 65534,
            encoding: "utf8",
            timeout: 30_000,
          });
          expect([peer.status, peer.stderr]).toEqual([0, ""]);
          const [line, ...more] = peer.stdout.split("\n");
          expect(more).toEqual(["closed", ""]);
          expect(JSON.parse(line!)).toEqual({
            error: `xdpc run's control socket serves root only: refused uid 65534 (pid ${peer.pid})`,
          });
        } finally {
          chmodSync(sock, 0o600);
          for (const d of [join(runDir, "xsk"), runDir, tmp]) chmodSync(d, 0o700);
        }

        const listed = json("map", "list", "--iface", lab.hostIf, "--json") as {
          maps: { name: string; type: string; handler?: boolean; perCpu: boolean }[];
        };
        expect(listed.maps.map((m) => [m.name, m.type, m.handler ?? false])).toEqual([
          ["sockets", "xskmap", false],
          ["xdpc_verdicts", "percpu_array", false],
          ["flows", "hash", true],
          ["blocked", "hash", true],
          ["verdicts", "percpu_array", true],
        ]);

        await send(5000, 0, 300);
        await send(5001, 1, 200);
        await send(5000, 1, 50);
        expect(dump("flows")).toEqual([
          { key: 5000, value: 350 },
          { key: 5001, value: 200 },
        ]);
        // Per-CPU values are per worker: worker 0 has queue 0, worker 1 queue 1.
        expect(
          json("map", "get", "verdicts", "0", "--iface", lab.hostIf, "--per-cpu", "--json"),
        ).toEqual({ key: 0, value: 550, perCpu: [300, 250] });

        // An update reaches the workers: 5001 is refused from now on, then allowed again.
        expect(xdpc("map", "set", "blocked", "5001", "1", "--iface", lab.hostIf).code).toBe(0);
        const again = xdpc(
          "map",
          "set",
          "blocked",
          "5001",
          "1",
          "--iface",
          lab.hostIf,
          "--flags",
          "noexist",
        );
        expect([again.code, again.stderr]).toEqual([
          1,
          "xdpc: error: handler map blocked: map update failed: already exists [EEXIST]\n",
        ]);
        await send(5001, 0, 120);
        expect(json("map", "get", "flows", "5001", "--iface", lab.hostIf, "--json")).toEqual({
          key: 5001,
          value: 200,
        });
        expect(json("map", "get", "verdicts", "1", "--iface", lab.hostIf, "--json")).toEqual({
          key: 1,
          value: 120,
        });
        expect(xdpc("map", "delete", "blocked", "5001", "--iface", lab.hostIf).code).toBe(0);
        const gone = xdpc("map", "delete", "blocked", "5001", "--iface", lab.hostIf);
        expect([gone.code, gone.stderr]).toEqual([
          1,
          "xdpc: error: no entry 5001 in map blocked\n",
        ]);
        await send(5001, 1, 30);
        expect(json("map", "get", "flows", "5001", "--iface", lab.hostIf, "--json")).toEqual({
          key: 5001,
          value: 230,
        });
        const arr = xdpc("map", "delete", "verdicts", "0", "--iface", lab.hostIf);
        expect(arr.code).toBe(1);
        expect(arr.stderr).toMatch(/^xdpc: error: handler map verdicts: an array: .*\[EINVAL\]\n$/);

        const s = stats();
        expect(s.handler.name).toBe("count");
        expect(s.handler.queues.map((q) => [q.queue, q.worker, q.rx.total, q.drop.total])).toEqual([
          [0, 0, 420, 420],
          [1, 1, 280, 280],
        ]);
        expect(s.handler.workers.map((w) => [w.worker, w.queues, w.rx.total, w.restarts])).toEqual([
          [0, [0], 420, 0],
          [1, [1], 280, 0],
        ]);

        // One run per interface: a second is refused in one line, the first goes on.
        const second = xdpc("run", "--iface", lab.hostIf, file);
        expect([second.code, second.stderr]).toEqual([
          1,
          `xdpc: error: xdpc run is already running on ${lab.hostIf} (control socket ${sock}); stop it first\n`,
        ]);
        await send(5002, 0, 10);
      } finally {
        disconnect();
        r.child.kill("SIGTERM");
      }
      expect(await r.exit).toBe(0);
      expect(r.lines.find((l) => l.event === "stopped")).toMatchObject({
        queues: [
          { queue: 0, rx: 430, drop: 430 },
          { queue: 1, rx: 280, drop: 280 },
        ],
      });
      // Stopped: the socket is gone, and so are the program, its pins and records.
      expect(existsSync(sock)).toBe(false);
      expect(attachedProgramId(lab.hostIf)).toBe(0);
      expect(existsSync(pinRoot) ? readdirSync(pinRoot) : []).toEqual([]);
    });

    it("kill -9 leaves a stale socket that nothing answers; the next run and xdpc unload remove it", async () => {
      const first = await run();
      first.child.kill("SIGKILL");
      expect(await first.exit).toBe(-1);
      expect(existsSync(sock)).toBe(true);
      // Only the kernel's maps now: the handler's died with the process.
      const listed = json("map", "list", "--iface", lab.hostIf, "--json") as {
        maps: { name: string }[];
      };
      expect(listed.maps.map((m) => m.name)).toEqual(["sockets", "xdpc_verdicts"]);

      const second = await run();
      await send(5003, 0, 40);
      expect(dump("flows")).toEqual([{ key: 5003, value: 40 }]);
      disconnect();
      second.child.kill("SIGKILL");
      expect(await second.exit).toBe(-1);
      expect(existsSync(sock)).toBe(true);
      const u = xdpc("unload", "--iface", lab.hostIf);
      expect(u.code).toBe(0);
      expect(existsSync(sock)).toBe(false);
      expect(attachedProgramId(lab.hostIf)).toBe(0);
      expect(existsSync(pinRoot) ? readdirSync(pinRoot) : []).toEqual([]);
    });
  });
});
