// Maps shared by AF_XDP workers, with live frames: a 2-queue veth lab (index 40), the
// XDP program redirects UDP to port 9 into the XskMap, two workers run a handler that
// counts every frame per flow in one HashMap (both workers increment the same keys),
// per worker in a PerCpuArray lane, and per source in an LruHash. The generator sends
// each flow from CPU 0 (queue 0) and CPU 1 (queue 1); the totals must be exact.
import { afterAll, beforeAll, expect, it } from "vitest";
import { availableParallelism } from "node:os";
import { compile, compileWasm } from "../../compiler/driver/index.ts";
import { attachNative } from "../../runtime/lab/control.ts";
import { createLab, destroyLab, ifindex, labSpec, type LabSpec } from "../../runtime/lab/netns.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { XskRunner } from "../../runtime/xsk/run.ts";
import { describeKernel } from "../support/kernel.ts";
import { until } from "../support/wait.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";

const SOURCE = `import { XdpContext, XdpAction, XDP_PASS, XskMap, XskPacket, XskVerdict, XSK_DROP,
  HashMap, LruHash, PerCpuArray, u16, u32, u64 } from "xdpc";
interface Flow { src: u32; sport: u16; dport: u16 }
const sockets = new XskMap({ maxEntries: 4, handler: count });
const flows = new HashMap<Flow, u64>({ maxEntries: 1024 });
const perWorker = new PerCpuArray<u64>({ maxEntries: 1 });
const sources = new LruHash<u32, u64>({ maxEntries: 256 });
export function steer(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null || udp.dstPort !== 9) return XDP_PASS;
  return sockets.redirect(ctx.rxQueue, XDP_PASS);
}
export function count(pkt: XskPacket): XskVerdict {
  const ip = pkt.ipv4();
  const udp = pkt.udp();
  if (ip === null || udp === null) return XSK_DROP;
  flows.increment({ src: ip.src, sport: udp.srcPort, dport: udp.dstPort });
  perWorker.increment(0);
  sources.increment(ip.src);
  return XSK_DROP;
}
`;

describeKernel("maps shared by AF_XDP workers, live frames", () => {
  const lab: LabSpec = { ...labSpec("hxskm", 40), queues: 2 };
  let steer: XdpObject;
  let detach: () => void = () => {};
  let wasm: Uint8Array;
  let gen: TrafficGenerator;

  beforeAll(async () => {
    destroyLab(lab);
    createLab(lab);
    const out = compile(SOURCE, { file: "count.ts", emit: "object" });
    if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
    wasm = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;
    steer = loadXdpObject(out.object);
    detach = attachNative(lab.hostIf, steer.programFd("steer"));
    gen = new TrafficGenerator(lab.name, lab.peerIf);
  });
  afterAll(() => {
    gen?.close();
    detach();
    steer?.close();
    destroyLab(lab);
  });

  it.skipIf(availableParallelism() < 2)(
    "two workers increment one HashMap per flow: the totals are the generator's counts",
    async () => {
      const runner = await XskRunner.start({
        ifname: lab.hostIf,
        ifindex: ifindex(lab.hostIf),
        xskMapFd: steer.object.mapFd("sockets"),
        wasm,
        handler: "count",
        workers: 2,
      });
      try {
        const flows = [0, 1, 2, 3].map((f) => ({
          sport: 5000 + f,
          frame: buildFrame({
            srcMac: lab.peerMac,
            dstMac: lab.hostMac,
            src: lab.peerAddr,
            dst: lab.hostAddr,
            l4: { proto: "udp", sport: 5000 + f, dport: 9 },
          }),
        }));
        // Per flow: n frames from each CPU, in chunks below the fill ring, each chunk
        // waited for (on its queue) before the next.
        const sent = new Map<number, number>();
        const rxOf = (q: number) => runner.counters().find((c) => c.queue === q)!.rx;
        for (let round = 0; round < 3; round++)
          for (const [i, f] of flows.entries())
            for (const cpu of [0, 1]) {
              const n = 100 + 37 * i + round;
              const want = rxOf(cpu) + BigInt(n);
              gen.send(f.frame, n, undefined, cpu);
              await until(() => rxOf(cpu) >= want, 20_000, `${want} frames on queue ${cpu}`);
              sent.set(f.sport, (sent.get(f.sport) ?? 0) + n);
            }
        const c = runner.counters();
        for (const q of c) expect(q.kernel.rxDropped).toBe(0n);
        const total = [...sent.values()].reduce((a, b) => a + b, 0);
        expect(c.reduce((a, q) => a + q.rx, 0n)).toBe(BigInt(total));

        const maps = runner.maps();
        const fl = maps.get("flows")!;
        const got = new Map(
          fl.entries().map(([k, v]) => {
            const kv = new DataView(k.buffer);
            return [kv.getUint16(4, true), Number(new DataView(v.buffer).getBigUint64(0, true))];
          }),
        );
        expect(got).toEqual(sent);
        // The per-CPU lanes: worker w counted exactly its queue's frames.
        const pw = maps.get("perWorker")!.lookup(new Uint8Array(4))!;
        const lanes = [0, 1].map((l) => new DataView(pw.buffer).getBigUint64(l * 8, true));
        expect(lanes).toEqual(c.map((q) => q.rx));
        const src = maps.get("sources")!.entries();
        expect(src.length).toBe(1);
        expect(new DataView(src[0]![1].buffer).getBigUint64(0, true)).toBe(BigInt(total));
      } finally {
        await runner.stop();
      }
    },
  );
});
