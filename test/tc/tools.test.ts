// xdpc's tc object in the standard tools, at a veth's ingress in a namespace of this
// test (lab index 47, 198.18.47.0/30): bpftool loads it (type sched_cls, BTF, line info
// naming the source), iproute2 attaches it (`tc filter add … ingress bpf da obj FILE.o
// sec tc`, and the program bpftool pinned, `object-pinned`), and the attached program
// marks live UDP datagrams by the policy bpftool wrote into its map: perMark counts them.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { describeKernel } from "../support/kernel.ts";
import { xdpc } from "../cli/run.ts";
import { until } from "../support/wait.ts";

const NS = "xdpc-tc47";
/** The sender: the other end of the veth, in a namespace of its own (index 48). */
const PEER = "xdpc-tc48";
const A = "xtc47a";
const B = "xtc47b";
const OBJ = `/tmp/xdpc-tc47-${process.pid}.o`;
const PIN = `/sys/fs/bpf/xdpc-tc47-${process.pid}`;
const sh = (cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
const inNs = (cmd: string[]) => sh(["nsenter", `--net=/run/netns/${NS}`, ...cmd]);
const inPeer = (cmd: string[]) => sh(["nsenter", `--net=/run/netns/${PEER}`, ...cmd]);
/** iproute2 makes its own bpffs tree (/sys/fs/bpf/{tc,ip,xdp}): give it a private one. */
const tcPrivate = (cmd: string) =>
  inNs([
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount -t bpf bpf /sys/fs/bpf && ${cmd}`,
  ]);
const bpftool = (...args: string[]) => JSON.parse(sh(["bpftool", "-j", ...args])) as unknown;

describeKernel("bpftool and iproute2 take xdpc's tc object", () => {
  beforeAll(() => {
    const b = xdpc(["build", "filters/tc/egress_policy.ts", "-o", OBJ]);
    expect(b.status, b.stderr).toBe(0);
    for (const ns of [NS, PEER]) {
      try {
        sh(["ip", "netns", "del", ns]);
      } catch {
        /* not there */
      }
      sh(["ip", "netns", "add", ns]);
    }
    inNs(["ip", "link", "add", A, "type", "veth", "peer", "name", B, "netns", PEER]);
    inNs(["ip", "addr", "add", "198.18.47.1/30", "dev", A]);
    inPeer(["ip", "addr", "add", "198.18.47.2/30", "dev", B]);
    for (const d of ["lo", A]) inNs(["ip", "link", "set", d, "up"]);
    for (const d of ["lo", B]) inPeer(["ip", "link", "set", d, "up"]);
  });
  afterAll(() => {
    for (const ns of [NS, PEER]) sh(["ip", "netns", "del", ns]);
    rmSync(OBJ, { force: true });
    rmSync(PIN, { recursive: true, force: true });
  });

  it("bpftool loads it as sched_cls with BTF and line info", () => {
    mkdirSync(PIN, { recursive: true });
    sh(["bpftool", "prog", "loadall", OBJ, `${PIN}/progs`, "pinmaps", `${PIN}/maps`]);
    const prog = bpftool("prog", "show", "pinned", `${PIN}/progs/egress_policy`) as {
      type: string;
      name: string;
      btf_id?: number;
    };
    expect([prog.type, prog.name]).toEqual(["sched_cls", "egress_policy"]);
    expect(prog.btf_id).toBeGreaterThan(0);
    const xlated = sh([
      "bpftool",
      "prog",
      "dump",
      "xlated",
      "pinned",
      `${PIN}/progs/egress_policy`,
      "linum",
    ]);
    expect(xlated).toMatch(/\[file:filters\/tc\/egress_policy\.ts line_num:\d+ line_col:\d+\]/);
    expect(xlated).toContain("ctx.mark = p.mark");
  });

  it("tc filter add … ingress bpf da obj FILE.o sec tc attaches it, and it marks live traffic", async () => {
    tcPrivate(
      `tc qdisc add dev ${A} clsact && tc filter add dev ${A} ingress bpf da obj ${OBJ} sec tc`,
    );
    const shown = inNs(["tc", "filter", "show", "dev", A, "ingress"]);
    expect(shown).toMatch(/\.o:\[tc\] direct-action .*name egress_policy/);
    // bpftool net asks netlink of its own namespace.
    const net = JSON.parse(inNs(["bpftool", "-j", "net", "show", "dev", A])) as {
      tc: { kind: string; name: string; id: number }[];
    }[];
    const tc = net[0]!.tc;
    expect(tc.map((t) => `${t.kind} ${t.name}`)).toEqual([`clsact/ingress ${OBJ.slice(5)}:[tc]`]);
    // The maps of the program tc loaded (not bpftool's pinned copy).
    const { map_ids } = bpftool("prog", "show", "id", String(tc[0]!.id)) as { map_ids: number[] };
    const mapOf = (name: string) =>
      map_ids.find(
        (id) => (bpftool("map", "show", "id", String(id)) as { name: string }).name === name,
      )!;
    const le = (n: number, bytes: number) =>
      Array.from({ length: bytes }, (_, i) => String((n >> (8 * i)) & 0xff));
    sh([
      "bpftool",
      "map",
      "update",
      "id",
      String(mapOf("policies")),
      "key",
      ...le(53, 2),
      "value",
      ...le(5, 4),
      ...le(0, 4),
      ...le(0, 4),
    ]);
    for (let i = 0; i < 3; i++) inPeer(["bash", "-c", "echo x > /dev/udp/198.18.47.1/53"]);
    const count = () => {
      const d = bpftool("map", "dump", "id", String(mapOf("perMark"))) as {
        key: string[];
        value: string[];
      }[];
      return d.map((e) => `${Number(e.key[0])}:${Number(e.value[0])}`);
    };
    await until(() => count().length > 0, 5000, "perMark");
    expect(count()).toEqual(["5:3"]);
  });

  it("tc filter add … bpf da object-pinned takes the program bpftool pinned", () => {
    const pinned = `${PIN}/progs/egress_policy`;
    inNs(["tc", "filter", "add", "dev", A, "egress", "bpf", "da", "object-pinned", pinned]);
    expect(inNs(["tc", "filter", "show", "dev", A, "egress"])).toMatch(
      /direct-action .*name egress_policy/,
    );
  });
});
