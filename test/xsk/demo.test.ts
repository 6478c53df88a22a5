// `xdpc demo --afxdp` end to end through the built CLI: filters/afxdp/udp_echo.ts in a
// lab it creates and removes, every frame accounted for (attacks dropped in the kernel,
// echo requests handled by the Wasm handler, every answer back at the sender with its
// bytes checked), and nothing left behind, also after Ctrl-C. Lab index 40.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { destroyLab, labSpec, linkExists, netnsExists } from "../../runtime/lab/netns.ts";
import { describeKernel } from "../support/kernel.ts";
import { npmBuild, ROOT } from "../runtime/loader-support.ts";

const bin = join(ROOT, "bin/xdpc.js");
const name = "hxskdemo";
const args = ["demo", "--afxdp", "--name", name, "--lab-index", "40"];
const demoPins = () =>
  readdirSync("/sys/fs/bpf")
    .filter((n) => n.startsWith("xdpc-xsk-demo-"))
    .sort();
const progExists = (id: number) =>
  spawnSync("bpftool", ["prog", "show", "id", String(id)]).status === 0;
const num = (out: string, re: RegExp) => Number(re.exec(out)![1]!.replace(/,/g, ""));
const nothingLeft = (progId: number, pinsBefore: string[]) => {
  expect(netnsExists(name)).toBe(false);
  expect(linkExists(`${name}0`)).toBe(false);
  expect(execFileSync("ip", ["-o", "link"], { encoding: "utf8" })).not.toContain(name);
  expect(demoPins()).toEqual(pinsBefore);
  expect(progExists(progId)).toBe(false);
};

describeKernel("xdpc demo --afxdp", () => {
  beforeAll(() => npmBuild(), 120_000);
  afterAll(() => void destroyLab(labSpec(name, 40)));

  it("answers echo in Wasm, drops the attack in the kernel, accounts for every frame", () => {
    const pinsBefore = demoPins();
    const r = spawnSync(process.execPath, [bin, ...args, "--duration", "1", "--pps", "50000"], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^built udp_echo\.ts → eBPF \(\d+ bytes\) \+ Wasm handler \(\d+ bytes\)/);
    expect(out).toMatch(/^handler echo \(Wasm\) on queue 0 in 1 worker, copy mode;/m);
    expect(out).toMatch(
      /^t=\d+\.\ds sent=\d+ attacks=\d+ redirected=\d+ tx=\d+ drop=\d+ replies=\d+$/m,
    );
    const sent = num(out, /^ {2}sent +([\d,]+)/m);
    const echoes = num(out, /echo clients ([\d,]+)/);
    const attacks = num(out, /reflection attack ([\d,]+)/);
    const kernel = num(out, /^ {2}kernel +([\d,]+)/m);
    const handled = num(out, /^ {2}handler +([\d,]+)/m);
    const kernelDrops = /kernel drops +([\d,]+)/.test(out) ? num(out, /kernel drops +([\d,]+)/) : 0;
    const answered = num(out, /answered +([\d,]+)/);
    const limited = num(out, /rate-limited +([\d,]+)/);
    const replies = num(out, /^ {2}replies +([\d,]+)/m);
    // The mix is 1 echo : 3 attack, split exactly per chunk.
    expect(echoes + attacks).toBe(sent);
    expect(attacks).toBe(echoes * 3);
    expect(kernel).toBe(attacks);
    expect(handled + kernelDrops).toBe(echoes);
    expect(answered + limited).toBe(handled);
    expect(answered).toBeGreaterThan(0);
    expect(replies).toBe(answered);
    expect(out).toContain("every frame accounted for");
    expect(out.trimEnd().endsWith("cleaned up: lab, program, sockets, pins")).toBe(true);
    nothingLeft(Number(/program id (\d+)/.exec(out)![1]), pinsBefore);
  });

  it("cleans up on SIGINT in the middle of the traffic", async () => {
    const pinsBefore = demoPins();
    const child = spawn(process.execPath, [bin, ...args, "--duration", "60", "--pps", "20000"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (/^t=/m.test(out)) resolve();
      });
      child.on("exit", (c) => reject(new Error(`demo exited early (${c}): ${out}`)));
    });
    expect(netnsExists(name)).toBe(true);
    const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    child.kill("SIGINT");
    expect(await code).toBe(130);
    nothingLeft(Number(/program id (\d+)/.exec(out)![1]), pinsBefore);
  });
});
