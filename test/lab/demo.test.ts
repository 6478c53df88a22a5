// `xdpc demo` end to end through the built CLI (run `npm run build` first).
import { afterAll, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeKernel } from "../support/kernel.ts";
import { destroyLab, labSpec, linkExists, netnsExists } from "../../runtime/lab/netns.ts";
import { tryLock } from "../../runtime/sys/lock.ts";
import { runDir } from "../../runtime/load/records.ts";
import { join } from "node:path";

const bin = fileURLToPath(new URL("../../bin/xdpc.js", import.meta.url));
const demoPins = () =>
  readdirSync("/sys/fs/bpf")
    .filter((n) => n.startsWith("xdpc-demo-"))
    .sort();
const progExists = (id: number) =>
  spawnSync("bpftool", ["prog", "show", "id", String(id)]).status === 0;
const num = (s: string) => Number(s.replace(/,/g, ""));

describeKernel("xdpc demo", () => {
  const name = "xdpctdemo";
  afterAll(() => void destroyLab(labSpec(name)));

  it("runs end to end, accounts for every frame and leaves nothing behind", () => {
    const pinsBefore = demoPins();
    const r = spawnSync(
      process.execPath,
      [bin, "demo", "--duration", "1", "--pps", "200000", "--name", name],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^built lpm_firewall\.ts → eBPF \(\d+ bytes\)/);
    expect(out).toContain("every frame accounted for");
    expect(out).toMatch(/^t=\d+\.\ds sent=\d+ passed=\d+ rule1=\d+ rule2=\d+$/m); // not a TTY: plain lines
    expect(out).not.toContain("\x1b[");
    const sent = num(/^ {2}sent +([\d,]+)/m.exec(out)![1]!);
    const passed = num(/^ {2}passed +([\d,]+)/m.exec(out)![1]!);
    const dropped = num(/^ {2}dropped +([\d,]+)/m.exec(out)![1]!);
    const rule1 = num(/^ {4}rule 1 198\.19\.66\.0\/24 +([\d,]+)/m.exec(out)![1]!);
    const rule2 = num(/^ {4}rule 2 198\.19\.128\.0\/17 +([\d,]+)/m.exec(out)![1]!);
    expect(sent).toBeGreaterThanOrEqual(50_000); // the first chunk (pps / 4) always goes out
    // The mix is 1:1 legit, 4:4 attack; the generator splits it exactly per chunk.
    expect(passed + dropped).toBe(sent);
    expect(rule1 + rule2).toBe(dropped);
    expect(passed * 5).toBe(sent);
    expect(rule1).toBe(rule2);
    const progId = Number(/program id (\d+)/.exec(out)![1]);
    expect(out.trimEnd().endsWith("cleaned up: lab, program, pins")).toBe(true);
    expect(netnsExists(name)).toBe(false);
    expect(linkExists(`${name}0`)).toBe(false);
    expect(execFileSync("ip", ["-o", "link"], { encoding: "utf8" })).not.toContain(name);
    expect(demoPins()).toEqual(pinsBefore);
    expect(progExists(progId)).toBe(false);
  });

  it("cleans up on SIGINT in the middle of the traffic", async () => {
    const pinsBefore = demoPins();
    const child = spawn(
      process.execPath,
      [bin, "demo", "--duration", "60", "--pps", "100000", "--name", name],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (/^t=/m.test(out)) resolve();
      });
      child.on("exit", (c) => reject(new Error(`demo exited early (${c}): ${out}`)));
    });
    expect(netnsExists(name)).toBe(true);
    const progId = Number(/program id (\d+)/.exec(out)![1]);
    const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    child.kill("SIGINT");
    expect(await code).toBe(130);
    expect(netnsExists(name)).toBe(false);
    expect(linkExists(`${name}0`)).toBe(false);
    expect(demoPins()).toEqual(pinsBefore);
    expect(progExists(progId)).toBe(false);
  });

  it("without privileges: one line naming the missing capabilities, before building anything", () => {
    const r = spawnSync(
      "setpriv",
      ["--bounding-set=-all", "--inh-caps=-all", process.execPath, bin, "demo", "--name", name],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "xdpc: error: xdpc demo needs CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_BPF (a network namespace, a veth pair and an XDP program; run as root)\n",
    );
  });

  it("refuses to run while another demo holds the same lab, and touches nothing", () => {
    const held = tryLock(join(runDir(), "locks"), `demo-${name}`);
    if (!("lock" in held)) throw new Error("lock busy before the test");
    try {
      const r = spawnSync(process.execPath, [bin, "demo", "--name", name], { encoding: "utf8" });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `xdpc: error: another xdpc demo is running with lab '${name}' (pid ${process.pid}); wait for it or use --name\n`,
      );
      expect(r.stdout).not.toContain("cleaned up");
      expect(netnsExists(name)).toBe(false);
    } finally {
      held.lock.release();
    }
  });

  it("rejects bad options as usage errors", () => {
    const r = spawnSync(process.execPath, [bin, "demo", "--duration", "0"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("xdpc: error: --duration must be a number in (0, 3600], got '0'\n");
  });
});
