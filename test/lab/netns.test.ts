import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeKernel } from "../support/kernel.ts";
import {
  createLab,
  destroyLab,
  execInNetns,
  ifindex,
  labSpec,
  LabError,
  linkExists,
  netnsExists,
  runInNetns,
  validLabName,
  withLab,
} from "../../runtime/lab/netns.ts";

const netnsList = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
const links = () => execFileSync("ip", ["-o", "link"], { encoding: "utf8" });

describe("lab specs", () => {
  it("derives interface names, 198.18.0.0/15 addresses and fixed MACs", () => {
    expect(labSpec("xdpctn", 3)).toEqual({
      name: "xdpctn",
      hostIf: "xdpctn0",
      peerIf: "xdpctn1",
      hostAddr: "198.18.0.13",
      peerAddr: "198.18.0.14",
      prefixLen: 30,
      hostMac: "02:00:c6:12:03:01",
      peerMac: "02:00:c6:12:03:02",
    });
  });
  it("rejects names that cannot become interface names", () => {
    expect(validLabName("xdpclab")).toBe(true);
    expect(validLabName("a-very-long-name-x")).toBe(false);
    expect(validLabName("Bad")).toBe(false);
    expect(() => labSpec("../etc")).toThrow(LabError);
    expect(() => labSpec("ok", 64)).toThrow(/outside 0..63/);
  });
});

describeKernel("lab namespaces", () => {
  const names = ["xdpctn1", "xdpctn2", "xdpctn3", "xdpctn4"];
  afterAll(() => {
    for (const n of names) destroyLab(labSpec(n));
  });

  it("creates a namespace with a veth pair and removes every trace", () => {
    const spec = labSpec("xdpctn1", 1);
    createLab(spec);
    try {
      expect(netnsList()).toMatch(/^xdpctn1\b/m);
      expect(linkExists(spec.hostIf)).toBe(true);
      expect(linkExists(spec.peerIf)).toBe(false); // the sender end lives in the namespace
      expect(linkExists(spec.peerIf, spec.name)).toBe(true);
      const hostAddr = execFileSync("ip", ["-o", "-4", "addr", "show", "dev", spec.hostIf], {
        encoding: "utf8",
      });
      expect(hostAddr).toContain("198.18.0.5/30");
      const inside = execInNetns(spec.name, "ip", ["-o", "link", "show", "dev", spec.peerIf]);
      expect(inside).toContain("link/ether 02:00:c6:12:01:02");
      expect(inside).toMatch(/state UP|LOWER_UP/);
      // IPv6 is off: the kernel sends nothing of its own into the lab.
      expect(
        readFileSync(`/proc/sys/net/ipv6/conf/${spec.hostIf}/disable_ipv6`, "utf8").trim(),
      ).toBe("1");
      expect(
        execInNetns(spec.name, "cat", [
          `/proc/sys/net/ipv6/conf/${spec.peerIf}/disable_ipv6`,
        ]).trim(),
      ).toBe("1");
      expect(execInNetns(spec.name, "ip", ["-6", "addr", "show", "dev", spec.peerIf])).toBe("");
      expect(() => createLab(spec)).toThrow(/already exists/);
    } finally {
      expect(destroyLab(spec)).toEqual(["xdpctn10", "netns xdpctn1"]);
    }
    expect(netnsList()).not.toMatch(/xdpctn1\b/);
    expect(links()).not.toMatch(/xdpctn1[01]/);
    expect(destroyLab(spec)).toEqual([]); // idempotent
  });

  it("runs functions inside the namespace and returns to the host namespace", async () => {
    await withLab("xdpctn2", (spec) => {
      const hostIndex = ifindex(spec.hostIf);
      const peerIndex = runInNetns(spec.name, () => ifindex(spec.peerIf));
      expect(peerIndex).toBe(ifindex(spec.peerIf, spec.name));
      expect(runInNetns(spec.name, () => linkExists(spec.hostIf))).toBe(false);
      expect(runInNetns(spec.name, () => linkExists(spec.peerIf))).toBe(true);
      expect(() =>
        runInNetns(spec.name, () => {
          throw new Error("boom");
        }),
      ).toThrow("boom");
      // Back home after the throw.
      expect(ifindex(spec.hostIf)).toBe(hostIndex);
      // bpffs stays visible to a child entered with nsenter (ip netns exec would hide it).
      const bpffs = execInNetns(spec.name, "stat", ["-f", "-c", "%T", "/sys/fs/bpf"]).trim();
      expect(bpffs).toBe("bpf_fs");
    });
    expect(netnsExists("xdpctn2")).toBe(false);
  });

  it("withLab removes the lab when the callback throws", async () => {
    await expect(
      withLab("xdpctn3", () => {
        throw new Error("test failure");
      }),
    ).rejects.toThrow("test failure");
    expect(netnsExists("xdpctn3")).toBe(false);
    expect(linkExists("xdpctn30")).toBe(false);
  });

  it("removes the lab when the process gets SIGINT", async () => {
    const script = fileURLToPath(new URL("./fixtures/hold-lab.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, "xdpctn4"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve();
      });
      child.on("exit", (c) => reject(new Error(`child exited early with ${c}`)));
    });
    expect(netnsExists("xdpctn4")).toBe(true);
    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(netnsExists("xdpctn4")).toBe(false);
    expect(linkExists("xdpctn40")).toBe(false);
    expect(readdirSync("/run/netns")).not.toContain("xdpctn4");
  });
});
