// The forwarding path of the FIB ports (xdp_fwd, xdp_forward, packet03's router), which a
// plain BPF_PROG_TEST_RUN never reaches: bpf_fib_lookup looks routes and neighbours up
// in the namespace of the frame's ingress device. Here the runs happen inside a
// namespace of the test's own (routes to the crafted frames' destinations through a veth
// with a permanent neighbour, forwarding on) with struct xdp_md's ingress_ifindex set, so
// the lookups succeed: TTL / hop-limit decrements, MAC rewrites and redirects are
// compared between xdpc's object and the clang -O2 twin, and required to happen.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { mapUpdate } from "../../native/object.ts";
import { ifindex, netnsExists, runInNetns } from "../../runtime/lab/netns.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, runXdp, type XdpObject } from "../support/xdp.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { clangUnavailableReason, compileBpfC } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { craftedFrames } from "./frames.ts";

const NS = "xdpc-rw-fib";
const IN = "xrwfa";
const OUT = "xrwfb";
const NEXT_HOP_MAC = [2, 0, 0, 0, 0x78, 2];
const NEXT_HOP6_MAC = [2, 0, 0, 0, 0x78, 6];
const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const ip = (...args: string[]) => execFileSync("ip", ["-n", NS, ...args], { stdio: "pipe" });

interface FibPort {
  name: string;
  programs: string[];
  /** The egress-device map to fill with OUT (key and value its ifindex), if the port has one. */
  devmap?: string;
}
const ports: FibPort[] = [
  { name: "xdp_fwd", programs: ["xdp_fwd", "xdp_fwd_direct"], devmap: "xdp_tx_ports" },
  {
    name: "xdp_forward",
    programs: ["xdp_fwd_fib_full", "xdp_fwd_fib_direct"],
    devmap: "xdp_tx_ports",
  },
  { name: "packet03", programs: ["xdp_router_func"] },
];

describeKernel("FIB ports forward inside a namespace with routes and neighbours", () => {
  let inIndex = 0;
  let outIndex = 0;
  beforeAll(() => {
    if (netnsExists(NS)) execFileSync("ip", ["netns", "del", NS]);
    execFileSync("ip", ["netns", "add", NS]);
    ip("link", "set", "lo", "up");
    ip("link", "add", IN, "type", "veth", "peer", "name", OUT);
    for (const d of [IN, OUT]) ip("link", "set", d, "up");
    ip("addr", "add", "198.18.77.1/24", "dev", IN);
    ip("addr", "add", "198.18.78.1/24", "dev", OUT);
    ip("route", "add", "198.19.0.0/16", "via", "198.18.78.2", "dev", OUT);
    ip(
      "neigh",
      "add",
      "198.18.78.2",
      "lladdr",
      "02:00:00:00:78:02",
      "dev",
      OUT,
      "nud",
      "permanent",
    );
    ip("-6", "addr", "add", "2001:db8:77::1/64", "dev", IN, "nodad");
    ip("-6", "addr", "add", "2001:db8:78::1/64", "dev", OUT, "nodad");
    ip("-6", "route", "add", "2001:db8::/64", "via", "2001:db8:78::2", "dev", OUT);
    ip(
      "-6",
      "neigh",
      "add",
      "2001:db8:78::2",
      "lladdr",
      "02:00:00:00:78:06",
      "dev",
      OUT,
      "nud",
      "permanent",
    );
    execFileSync("nsenter", [
      `--net=/run/netns/${NS}`,
      "--",
      "sysctl",
      "-qw",
      "net.ipv4.ip_forward=1",
      "net.ipv6.conf.all.forwarding=1",
    ]);
    inIndex = ifindex(IN, NS);
    outIndex = ifindex(OUT, NS);
  });
  afterAll(() => {
    if (netnsExists(NS)) execFileSync("ip", ["netns", "del", NS]);
  });

  const clang = clangUnavailableReason();
  const packets = [
    ...craftedFrames().map((f) => ({ data: f.data, source: `crafted:${f.name}` })),
    ...samplePackets(loadCorpus().packets, 200, 12),
  ];
  for (const port of ports) {
    const source = readFileSync(join(import.meta.dirname, `${port.name}.ts`), "utf8");
    const built = compile(source, { file: `${port.name}.ts`, emit: "object" });
    for (const prog of port.programs)
      it.skipIf(clang !== null)(`${port.name} ${prog}${clang ? ` [${clang}]` : ""}`, () => {
        expect(built.diagnostics.map((d) => d.message)).toEqual([]);
        const twin = compileBpfC({ path: join(import.meta.dirname, `${port.name}.c`) });
        const fill = (o: XdpObject) => {
          if (port.devmap) mapUpdate(o.mapFd(port.devmap), le32(outIndex), le32(outIndex));
        };
        runInNetns(NS, () => {
          const r = diffObjects(built.object!, twin, packets, {
            programA: prog,
            programB: prog,
            setup: fill,
            ingressIfindex: inIndex,
          });
          expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
          expect(r.packets).toBe(packets.length);
          // The forwarding path ran: IPv4 and IPv6 frames redirected with the next hop's
          // MAC, the TTL / hop limit one lower.
          const o = loadXdpObject(built.object!, { name: "rwfib" });
          try {
            fill(o);
            const frames = craftedFrames();
            const v4 = frames.find((f) => f.name === "ipv4 udp")!.data;
            const v6 = frames.find((f) => f.name === "ipv6 udp")!.data;
            const [a, b] = runXdp(o.programFd(prog), [v4, v6], { ingressIfindex: inIndex });
            expect([a!.name, b!.name]).toEqual(["XDP_REDIRECT", "XDP_REDIRECT"]);
            expect([...a!.data.subarray(0, 6)]).toEqual(NEXT_HOP_MAC);
            expect(a!.data[22]).toBe(v4[22]! - 1);
            expect([...b!.data.subarray(0, 6)]).toEqual(NEXT_HOP6_MAC);
            expect(b!.data[21]).toBe(v6[21]! - 1);
          } finally {
            o.close();
          }
        });
      });
  }
});
