// The router example (filters/router/router.ts) in a three-namespace lab, client ⇄
// router ⇄ server: it forwards every frame the kernel stack would, to the same next hop
// (the server's MAC, from the router's egress interface, TTL one lower), and leaves the
// rest to the stack; and it agrees with its clang -O2 twin (router.c) on verdicts,
// bytes and maps over the corpus and the lab's own frames, with the FIB of the lab's
// router namespace behind both.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { mapUpdate } from "../../native/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { until } from "../support/wait.ts";
import { loadCorpus, samplePackets } from "../support/corpus.ts";
import { clangUnavailableReason, compileBpfC } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { craftedFrames } from "../realworld/frames.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { ifindex, runInNetns } from "../../runtime/lab/netns.ts";
import { createRouterLab, routerLabSpec, type RouterLab } from "../../runtime/lab/router.ts";
import { open, type Collection, type Link } from "../../runtime/control/index.ts";

const ROOT = join(import.meta.dirname, "../..");
const ROUTER = join(ROOT, "filters/router/router.ts");
const SINK = join(import.meta.dirname, "sink.ts");
const N = 500;
// Frames per live-frames run: a burst larger than a veth's 256-frame XDP ring would be
// dropped at the server's end (by both paths alike), which the counts must not depend on.
const CHUNK = 64;
const mac = (s: string) => BigInt("0x" + s.replace(/:/g, ""));
const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

/** The lab's traffic: two destinations the router forwards, two it leaves to the stack. */
function mix(lab: RouterLab) {
  const frame = (name: string, dst: string, ttl = 64) => ({
    name,
    weight: 1,
    frame: buildFrame({
      srcMac: lab.macs.client,
      dstMac: lab.macs.routerIn,
      src: lab.clientAddr,
      dst,
      ttl,
      l4: { proto: "udp", sport: 4000, dport: 9 },
    }),
  });
  return [
    frame("server", lab.serverAddr),
    frame("beyond", lab.beyond.replace(/0\/24$/, "9")),
    frame("ttl1", lab.serverAddr, 1),
    frame("unrouted", lab.unrouted),
  ];
}

/** Ip ForwDatagrams of the router namespace: frames its stack forwarded. */
function stackForwarded(lab: RouterLab): number {
  const snmp = runInNetns(lab.router, () => readFileSync("/proc/net/snmp", "utf8"));
  const [names, values] = snmp.split("\n").filter((l) => l.startsWith("Ip: "));
  return Number(values!.split(" ")[names!.split(" ").indexOf("ForwDatagrams")]);
}

const sum = (v: unknown) =>
  Array.isArray(v) ? v.reduce((a: bigint, x) => a + BigInt(x as bigint), 0n) : BigInt(v as bigint);

describeKernel("router example in a three-namespace lab", () => {
  const lab = routerLabSpec("xrt", 30);
  let remove: () => void;
  let outIndex = 0;
  beforeAll(() => {
    remove = createRouterLab(lab);
    outIndex = ifindex(lab.routerOutIf, lab.router);
  }, 60_000);
  afterAll(() => remove?.());

  it("forwards every frame the kernel stack forwards, to the same next hop", async () => {
    let sink: Collection | undefined;
    let router: Collection | undefined;
    const links: Link[] = [];
    const gen = new TrafficGenerator(lab.client, lab.clientIf);
    try {
      // The server counts what arrives as a router must deliver it, and drops all.
      sink = open(SINK).load({
        params: { serverMac: mac(lab.macs.server), routerMac: mac(lab.macs.routerOut), ttl: 63 },
      });
      router = open(ROUTER).load();
      links.push(runInNetns(lab.server, () => sink!.programs.sink!.attachXdp(lab.serverIf)));
      links.push(runInNetns(lab.router, () => router!.programs.router!.attachXdp(lab.routerInIf)));
      const seen = () => [sum(sink!.maps.seen!.lookup(0)), sum(sink!.maps.seen!.lookup(1))];
      const counts = () => [
        sum(router!.maps.counts!.lookup(0)),
        sum(router!.maps.counts!.lookup(1)),
      ];

      // 1. The kernel forwards: with no egress interface allowed, the filter passes every
      //    frame to the stack.
      const fwd0 = stackForwarded(lab);
      expect((await gen.generate({ mix: mix(lab), count: 4 * N, chunk: CHUNK })).sent).toBe(4 * N);
      await until(() => seen()[0] === BigInt(2 * N), 20_000, "the stack's forwarded frames");
      expect(seen()).toEqual([BigInt(2 * N), 0n]);
      expect(counts()).toEqual([0n, BigInt(4 * N)]);
      expect(stackForwarded(lab) - fwd0).toBe(2 * N);

      // 2. XDP forwards: the same traffic, the egress interface allowed.
      sink.maps.seen!.update(0, 0n);
      // A device map resolves ifindexes in the updating thread's namespace.
      runInNetns(lab.router, () => router!.maps.egress!.update(outIndex, outIndex));
      const fwd1 = stackForwarded(lab);
      expect((await gen.generate({ mix: mix(lab), count: 4 * N, chunk: CHUNK })).sent).toBe(4 * N);
      await until(() => seen()[0] === BigInt(2 * N), 20_000, "the filter's forwarded frames");
      expect(seen()).toEqual([BigInt(2 * N), 0n]);
      // Forwarded by the filter, none by the stack; TTL 1 and the unrouted address went
      // to the stack, which dropped them as before.
      expect(counts()).toEqual([BigInt(2 * N), BigInt(4 * N + 2 * N)]);
      expect(stackForwarded(lab) - fwd1).toBe(0);
    } finally {
      gen.close();
      for (const l of links) l.close();
      sink?.close();
      router?.close();
    }
  }, 120_000);

  const clang = clangUnavailableReason();
  it.skipIf(clang !== null)(
    `agrees with its clang -O2 twin over the corpus and the lab's frames${clang ? ` [${clang}]` : ""}`,
    () => {
      const built = compile(readFileSync(ROUTER, "utf8"), { file: "router.ts", emit: "object" });
      expect(built.diagnostics.map((d) => d.message)).toEqual([]);
      const twin = compileBpfC({ path: join(import.meta.dirname, "router.c") });
      const packets = [
        ...mix(lab).map((m) => ({ data: m.frame, source: `lab:${m.name}` })),
        ...craftedFrames().map((f) => ({ data: f.data, source: `crafted:${f.name}` })),
        ...samplePackets(loadCorpus().packets, 300, 13),
      ];
      const inIndex = ifindex(lab.routerInIf, lab.router);
      runInNetns(lab.router, () => {
        const r = diffObjects(built.object!, twin, packets, {
          programA: "router",
          programB: "router",
          setup: (o) => mapUpdate(o.mapFd("egress"), le32(outIndex), le32(outIndex)),
          ingressIfindex: inIndex,
        });
        expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
        expect(r.packets).toBe(packets.length);
        expect(r.histogramA.XDP_REDIRECT).toBe(2);
        expect(Object.keys(r.histogramA).sort()).toEqual(["XDP_PASS", "XDP_REDIRECT"]);
      });
    },
  );
});
