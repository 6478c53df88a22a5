// `xdpc lab` through the built CLI (run `npm run build` first: the CLI runs from dist/).
import { afterAll, expect, it } from "vitest";
import { spawnSync, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describeKernel } from "../support/kernel.ts";
import { destroyLab, labSpec } from "../../runtime/lab/netns.ts";
import { attachNative } from "../../runtime/lab/control.ts";
import { compile } from "../../compiler/driver/index.ts";
import { mapLookup } from "../../native/object.ts";
import { loadXdpObject } from "../support/xdp.ts";

const COUNT_ALL = `import { XdpContext, XdpAction, XDP_DROP, ArrayMap, u64 } from "xdpc";
const seen = new ArrayMap<u64>({ maxEntries: 1 });
export function count(ctx: XdpContext): XdpAction { seen.increment(0); return XDP_DROP; }`;

const bin = fileURLToPath(new URL("../../bin/xdpc.js", import.meta.url));
const xdpc = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const netnsList = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
const links = () => execFileSync("ip", ["-o", "link"], { encoding: "utf8" });

describeKernel("xdpc lab", () => {
  const name = "xdpctcli";
  afterAll(() => void destroyLab(labSpec(name)));

  it("up, status, down leave nothing behind", () => {
    const up = xdpc("lab", "up", "--name", name);
    expect(up.err).toBe("");
    expect(up.code).toBe(0);
    expect(up.out).toContain("lab xdpctcli is up");
    expect(up.out).toMatch(/receiver\s+xdpctcli0\s+198\.18\.0\.1\/30\s+02:00:c6:12:00:01/);
    expect(up.out).toMatch(/sender\s+xdpctcli1\s+198\.18\.0\.2\/30\s+02:00:c6:12:00:02/);
    expect(netnsList()).toMatch(/^xdpctcli\b/m);
    expect(links()).toMatch(/: xdpctcli0@/);

    const st = xdpc("lab", "status", "--name", name);
    expect(st.code).toBe(0);
    expect(st.out).toContain("lab xdpctcli is up");
    expect(st.out).toContain("xdp on xdpctcli0: none");

    const again = xdpc("lab", "up", "--name", name);
    expect(again.code).toBe(1);
    expect(again.err).toBe(
      "xdpc: error: network namespace 'xdpctcli' already exists (run `xdpc lab down --name xdpctcli`)\n",
    );

    const down = xdpc("lab", "down", "--name", name);
    expect(down.code).toBe(0);
    expect(down.out).toBe("lab xdpctcli removed (xdpctcli0, netns xdpctcli)\n");
    expect(netnsList()).not.toMatch(/xdpctcli/);
    expect(links()).not.toMatch(/xdpctcli/);

    expect(xdpc("lab", "status", "--name", name)).toMatchObject({
      code: 1,
      out: "lab xdpctcli is down\n",
    });
    expect(xdpc("lab", "down", "--name", name)).toMatchObject({
      code: 0,
      out: "lab xdpctcli was not up; nothing to remove\n",
    });
  });

  it("reports a half-made lab as broken and down removes it", () => {
    execFileSync("ip", ["netns", "add", name]);
    const st = xdpc("lab", "status", "--name", name);
    expect(st.code).toBe(1);
    expect(st.out).toContain("broken");
    expect(xdpc("lab", "down", "--name", name).out).toBe("lab xdpctcli removed (netns xdpctcli)\n");
    expect(netnsList()).not.toMatch(/xdpctcli/);
  });

  it("without privileges: one line naming the missing capabilities, exit 1, nothing made", () => {
    // Root with an empty capability bounding set: the files stay readable, the privileges go.
    const r = spawnSync(
      "setpriv",
      [
        "--bounding-set=-all",
        "--inh-caps=-all",
        process.execPath,
        bin,
        "lab",
        "up",
        "--name",
        name,
      ],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "xdpc: error: a lab needs CAP_SYS_ADMIN and CAP_NET_ADMIN (namespaces and veth pairs; run as root)\n",
    );
    expect(netnsList()).not.toMatch(/xdpctcli/);
  });

  it("send delivers exactly --count frames to the filter on the receiver", () => {
    const sink = loadXdpObject(compile(COUNT_ALL, { file: "count.ts", emit: "object" }).object!);
    try {
      expect(xdpc("lab", "up", "--name", name).code).toBe(0);
      const none = xdpc("lab", "send", "--name", name, "--count", "10");
      expect(none.code).toBe(1);
      expect(none.err).toContain(`nothing would arrive: ${name}0 runs no XDP program`);
      const detach = attachNative(`${name}0`, sink.programFd());
      try {
        const r = xdpc(
          "lab",
          "send",
          "--name",
          name,
          "--count",
          "5000",
          "--proto",
          "syn",
          "--from",
          "198.19.7.0/24",
          "--size",
          "128",
        );
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        expect(r.out).toContain(
          "sending 5000 syn 128-byte frames from 198.19.7.0/24 to 198.18.0.1:9 on xdpctcli1 → xdpctcli0",
        );
        expect(r.out).toMatch(/^sent 5,000 frames in [\d.]+ s/m);
        const v = mapLookup(sink.mapFd("seen"), new Uint8Array(4), 8)!;
        expect(Buffer.from(v).readBigUInt64LE()).toBe(5000n);
      } finally {
        detach();
      }
      expect(xdpc("lab", "send", "--name", name, "--size", "10")).toMatchObject({
        code: 2,
        err: "xdpc: error: --size must be an integer in 60..1514, got '10'\n",
      });
      expect(xdpc("lab", "send", "--name", name, "--from", "1.2.3/8").code).toBe(2);
    } finally {
      sink.close();
      xdpc("lab", "down", "--name", name);
    }
    expect(xdpc("lab", "send", "--name", name, "--count", "1")).toMatchObject({
      code: 1,
      err: `xdpc: error: lab ${name} is not up (run \`xdpc lab up --name ${name}\`)\n`,
    });
  });

  it("--index gives a lab its own addresses, and status reports them", () => {
    try {
      const up = xdpc("lab", "up", "--name", name, "--index", "7");
      expect(up.code).toBe(0);
      expect(up.out).toMatch(/receiver\s+xdpctcli0\s+198\.18\.0\.29\/30\s+02:00:c6:12:07:01/);
      expect(xdpc("lab", "status", "--name", name).out).toMatch(
        /sender\s+xdpctcli1\s+198\.18\.0\.30\/30\s+02:00:c6:12:07:02/,
      );
      expect(xdpc("lab", "up", "--name", "xdpctcli2", "--index", "64")).toMatchObject({
        code: 2,
        err: "xdpc: error: --index must be an integer in 0..63, got '64'\n",
      });
    } finally {
      xdpc("lab", "down", "--name", name);
    }
  });

  it("rejects bad names and actions as usage errors", () => {
    expect(xdpc("lab", "up", "--name", "Bad Name")).toMatchObject({ code: 2 });
    expect(xdpc("lab", "sideways").code).toBe(2);
  });
});
