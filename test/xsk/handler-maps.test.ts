// Handlers with maps in AF_XDP workers: the same logic as an XDP program in the kernel
// (BPF_PROG_TEST_RUN, kernel maps) and as a handler through its batch loop over fake
// rings (test/xsk/fake.ts; maps in the shared memory, compiler/wasm/maps.ts) over the
// same frames — every map ends with the same entries (per-CPU maps: the same sum over
// lanes), including the updates that fail (EEXIST, E2BIG, ENOSPC: counted in `fails`
// and `lpm`); an LpmTrie's longest-prefix lookups hit where the kernel's do.
import { beforeAll, expect, it } from "vitest";
import { compile, compileWasm } from "../../compiler/driver/index.ts";
import { mapLookup, mapNextKey, possibleCpus } from "../../native/object.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, runXdp } from "../support/xdp.ts";
import { FakeRings } from "./fake.ts";

const BODY = `
  const ip = P.ipv4();
  if (ip === null) return DROP;
  const udp = P.udp();
  if (udp === null) return DROP;
  seen.increment(0);
  flows.increment({ src: ip.src, sport: udp.srcPort, dport: udp.dstPort });
  perPort.increment(udp.dstPort, P.len);
  last.update(ip.src, udp.srcPort);
  if (udp.dstPort === 99) flows.delete({ src: ip.src, sport: udp.srcPort, dport: 98 });
  sizes.update(P.len & 3, P.len);
  if (!marks.update(udp.dstPort, ip.src, BPF_NOEXIST)) fails.increment(0);
  const m = marks.lookup(udp.dstPort);
  if (m !== null && m === ip.src) fails.increment(1);
  const hit = nets.lookup({ prefixlen: 32, addr: ip.src });
  if (hit === null) {
    if (!nets.update({ prefixlen: 30 + (udp.srcPort & 3), addr: ip.src }, P.len)) lpm.increment(2);
    lpm.increment(0);
  } else lpm.increment(1, hit);
  return DROP;
`;
// Two files with the same maps: one map may not serve both halves (XDP3053).
const MAPS = `import { XdpContext, XdpAction, XDP_DROP, XskMap, XskPacket, XskVerdict, XSK_DROP, BPF_NOEXIST,
  ArrayMap, PerCpuArray, HashMap, PerCpuHash, LruHash, LpmTrie, u16, u32, u64 } from "xdpc";
interface Flow { src: u32; sport: u16; dport: u16 }
interface Pfx { prefixlen: u32; addr: u32 }
const flows = new HashMap<Flow, u64>({ maxEntries: 6 });
const perPort = new PerCpuHash<u16, u64>({ maxEntries: 16 });
const last = new LruHash<u32, u16>({ maxEntries: 64 });
const marks = new HashMap<u16, u32>({ maxEntries: 3 });
const sizes = new ArrayMap<u64>({ maxEntries: 4 });
const seen = new PerCpuArray<u64>({ maxEntries: 1 });
const fails = new ArrayMap<u64>({ maxEntries: 2 });
const nets = new LpmTrie<Pfx, u64>({ maxEntries: 4 });
const lpm = new ArrayMap<u64>({ maxEntries: 3 });
`;
const KERNEL = `${MAPS}export function x(P: XdpContext): XdpAction {${BODY.replaceAll("DROP", "XDP_DROP")}}
`;
const HANDLER = `${MAPS}const sockets = new XskMap({ maxEntries: 4, handler: h });
export function h(P: XskPacket): XskVerdict {${BODY.replaceAll("DROP", "XSK_DROP")}}
`;

const frames = (() => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 120; i++)
    out.push(
      buildFrame({
        srcMac: "02:00:00:00:00:01",
        dstMac: "02:00:00:00:00:02",
        src: `198.18.${i % 3}.${1 + (i % 5)}`,
        dst: "198.19.0.1",
        l4: { proto: "udp", sport: 1000 + (i % 4), dport: [53, 98, 99, 7, 9][i % 5]! },
        payload: new Uint8Array(i % 7),
      }),
    );
  return out;
})();

let out: ReturnType<typeof compile>;
let wasm: Uint8Array;
beforeAll(async () => {
  const built = (source: string, file: string) => {
    const r = compile(source, { file, emit: "object" });
    if (!r.object) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    return r;
  };
  out = built(KERNEL, "kernel.ts");
  wasm = (await compileWasm(built(HANDLER, "handler.ts"), { only: "handler", rxBatch: true }))!
    .binary!;
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** Per-CPU values summed over lanes of 8-byte slots (u64 values), else the bytes. */
function norm(v: Uint8Array, perCpu: boolean, valueSize: number): string {
  if (!perCpu) return hex(v.subarray(0, valueSize));
  let sum = 0n;
  for (let at = 0; at < v.length; at += 8)
    sum += new DataView(v.buffer, v.byteOffset + at, 8).getBigUint64(0, true);
  return sum.toString();
}

it("the handler's maps work through the batch loop (no kernel)", () => {
  const rings = new FakeRings(wasm, "h", 256, 512);
  rings.receive(frames);
  expect(rings.batch(rings.ctl, 256)).toBe(frames.length);
  const maps = rings.maps();
  expect(maps.names().sort()).toEqual([
    "fails",
    "flows",
    "last",
    "lpm",
    "marks",
    "nets",
    "perPort",
    "seen",
    "sizes",
  ]);
  const seen = maps.get("seen")!.lookup(new Uint8Array(4))!;
  expect(new DataView(seen.buffer).getBigUint64(0, true)).toBe(120n);
  expect(maps.get("flows")!.keys().length).toBe(6); // full: the later flows got E2BIG
  expect(maps.get("marks")!.keys().length).toBe(3);
  expect(maps.get("last")!.keys().length).toBe(15);
  // Prefixes /30../33: the trie fills (ENOSPC), /33 is EINVAL; both counted in lpm[2].
  expect(maps.get("nets")!.keys().length).toBe(4);
  const lpm = maps
    .get("lpm")!
    .entries()
    .map(([, v]) => new DataView(v.buffer).getBigUint64(0, true));
  expect(lpm).toEqual([60n, 3600n, 56n]); // misses, bytes of the hits, refused updates
});

describeKernel("handler maps against the kernel", () => {
  it("the XDP twin in the kernel and the handler end with the same map entries", () => {
    const obj = loadXdpObject(out.object!);
    try {
      const r = runXdp(obj.programFd("x"), frames);
      expect(r.every((x) => x.verdict === 1)).toBe(true);
      const rings = new FakeRings(wasm, "h", 256, 512);
      rings.receive(frames);
      expect(rings.batch(rings.ctl, 256)).toBe(frames.length);
      const maps = rings.maps();
      const cpus = possibleCpus();
      for (const name of maps.names()) {
        const w = maps.get(name)!;
        const fd = obj.object.mapFd(name);
        const { keySize, valueSize } = w.layout;
        const vbytes = w.perCpu ? cpus * w.stride : valueSize;
        const kernel: string[] = [];
        for (let k = mapNextKey(fd, null, keySize); k; k = mapNextKey(fd, k, keySize))
          kernel.push(`${hex(k)}=${norm(mapLookup(fd, k, vbytes)!, w.perCpu, valueSize)}`);
        const mine = w.entries().map(([k, v]) => `${hex(k)}=${norm(v, w.perCpu, valueSize)}`);
        // Full maps (flows, marks) kept the same keys: which keys got E2BIG depends only on the order.
        expect(mine.sort(), name).toEqual(kernel.sort());
      }
    } finally {
      obj.close();
    }
  });
});
