// The processor example end to end, in a lab namespace with live frames: it attaches
// guard.ts, frames from a source not on the blocklist pass, a blocklist edit reaches the
// map, frames from that source then drop — each drop one JSON event with the packet's
// fields — the stats lines count exactly what was sent, and SIGTERM detaches it.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../../test/support/wait.ts";
import { describeKernel } from "../../test/support/kernel.ts";
import { bringUpLab, destroyLab, labSpec, type LabSpec } from "../../runtime/lab/netns.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { xdpQuery } from "../../native/xdp.ts";
import { ifNameToIndex } from "../../native/ifname.ts";
import { parseBlocklist } from "./processor.ts";

it("blocklist files: prefixes and addresses, comments, host bits cleared, bad lines skipped", () => {
  const m = parseBlocklist("# attackers\n198.18.7.9/24\n198.18.0.5  # one host\n\n");
  expect([...m.keys()]).toEqual(["198.18.7.0/24", "198.18.0.5/32"]);
  expect(m.get("198.18.7.0/24")).toEqual({ prefixlen: 24, addr: 0xc6120700 });
});

describeKernel("processor (xdpc/runtime control plane)", () => {
  let lab: LabSpec;
  let remove: () => void;
  let dir: string;
  let child: ChildProcess | undefined;
  const lines: Record<string, unknown>[] = [];
  beforeAll(() => {
    lab = labSpec("xdpc-proc", 61);
    destroyLab(lab);
    remove = bringUpLab(lab);
    dir = mkdtempSync(join(tmpdir(), "xdpc-proc-"));
  }, 60_000);
  afterAll(() => {
    child?.kill("SIGKILL");
    remove?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const of = (type: string) => lines.filter((l) => l.type === type);
  const last = (type: string) => of(type).at(-1) as Record<string, any> | undefined;

  it("forwards, blocks what the file says, reports events and counters, detaches on SIGTERM", async () => {
    const list = join(dir, "blocked.txt");
    writeFileSync(list, "# nothing blocked yet\n198.19.0.0/16\n");
    child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "processor.ts"), "--iface", lab.hostIf, "--blocklist", list, "--interval", "100"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    const exited = new Promise<number | null>((r) => child!.on("exit", r));
    await until(() => of("blocklist").length === 1, 60_000, "the processor to attach and read its list");
    expect(last("attached")).toMatchObject({ iface: lab.hostIf });
    expect(xdpQuery(ifNameToIndex(lab.hostIf)).progId).toBe(last("attached")!.program);
    expect(last("blocklist")).toEqual({ type: "blocklist", added: 1, removed: 0, total: 1 });

    const gen = new TrafficGenerator(lab.name, lab.peerIf);
    const frame = buildFrame({
      srcMac: lab.peerMac,
      dstMac: lab.hostMac,
      src: lab.peerAddr,
      dst: lab.hostAddr,
      ttl: 33,
      l4: { proto: "udp", sport: 4000, dport: 9 },
    });
    const send = (count: number) => gen.generate({ mix: [{ name: "udp", frame, weight: 1 }], count });
    try {
      await send(200);
      await until(() => last("stats")?.verdicts.pass === 200, 20_000, "200 passes in the stats");
      writeFileSync(list, `198.19.0.0/16\n${lab.peerAddr}\n`);
      await until(() => of("blocklist").length === 2, 20_000, "the edited list");
      expect(last("blocklist")).toEqual({ type: "blocklist", added: 1, removed: 0, total: 2 });
      await send(100);
      await until(() => of("drop").length === 100, 20_000, "100 drop events");
      await until(() => last("stats")?.verdicts.drop === 100, 20_000, "100 drops in the stats");
    } finally {
      gen.close();
    }
    expect(last("stats")!.verdicts.pass).toBe(200);
    expect(of("drop")[0]).toEqual({
      type: "drop",
      src: lab.peerAddr,
      dst: lab.hostAddr,
      len: frame.length,
      proto: 17,
      ttl: 33,
      hits: 1,
    });
    expect(of("drop")[99]).toMatchObject({ hits: 100 });
    expect(of("error")).toEqual([]);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(last("stopped")).toBeDefined();
    expect(xdpQuery(ifNameToIndex(lab.hostIf)).progId).toBe(0);
  });
});
