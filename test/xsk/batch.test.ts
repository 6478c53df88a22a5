// The generated batch loop over fake rings (test/xsk/fake.ts), against the kernel: the
// handler of test/xsk/support.ts and the same logic written as an XDP program (XSK_TX ↔
// XDP_TX, XSK_DROP ↔ XDP_DROP) run over the whole corpus; the frames the loop puts on
// the TX ring must be, in order, exactly the kernel's XDP_TX output, and every frame
// must come back (no leak through the free stack, the fill ring or a full TX ring).
import { beforeAll, describe, expect, it } from "vitest";
import { compile, compileWasm } from "../../compiler/driver/index.ts";
import { CTL, RELEASE_PLAIN, WAKE_IDLE, WAKE_TX } from "../../compiler/wasm/xsk-abi.ts";
import { releasePlain } from "../../runtime/xsk/sockets.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus } from "../support/corpus.ts";
import { hex } from "../../runtime/packets/build.ts";
import { loadXdpObject, runXdp, XDP_DROP, XDP_TX } from "../support/xdp.ts";
import { FakeRings, RX_HEADROOM } from "./fake.ts";
import { STEER } from "./support.ts";

// The handler's logic as an XDP program, line for line.
const TWIN = `
export function echo_xdp(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null) return XDP_DROP;
  if (udp.dstPort !== 7) return XDP_DROP;
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  const mac = eth.src;
  eth.src = eth.dst;
  eth.dst = mac;
  const ip = ctx.ipv4();
  if (ip === null) return XDP_DROP;
  const a = ip.src;
  ip.src = ip.dst;
  ip.dst = a;
  ip.ttl = 7;
  const p = udp.srcPort;
  udp.srcPort = udp.dstPort;
  udp.dstPort = p;
  return XDP_TX;
}
`;
const SOURCE = STEER.replace(`XDP_PASS, ArrayMap`, `XDP_PASS, XDP_DROP, XDP_TX, ArrayMap`) + TWIN;

/** Corpus packets that fit a UMEM chunk after the copy-mode headroom, as the kernel requires. */
const fits = (p: Uint8Array) => p.length <= 4096 - RX_HEADROOM - 320;

let wasm: Uint8Array;
let object: Uint8Array;
beforeAll(async () => {
  const out = compile(SOURCE, { file: "echo.ts", emit: "object" });
  if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  object = out.object;
  wasm = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;
});

/** Packets with port 7 variants, so that both verdicts occur often. */
function packets(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of loadCorpus()
    .packets.map((c) => c.data)
    .filter(fits)) {
    out.push(p);
    // The same packet towards UDP port 7 when it is IPv4 UDP without options or tags.
    if (p.length >= 42 && p[12] === 0x08 && p[13] === 0 && p[14] === 0x45 && p[23] === 17) {
      const q = p.slice();
      q[36] = 0;
      q[37] = 7;
      out.push(q);
    }
  }
  return out;
}

/** A 60-byte IPv4/UDP frame to `dport` (all the batch loop's handler reads). */
function udp(dport: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set([0x08, 0x00, 0x45, 0, 0, 46], 12);
  f[23] = 17;
  f[36] = dport >> 8;
  f[37] = dport & 0xff;
  return f;
}

// Ring indices published with sequentially consistent stores, and with plain ones (x86-64).
const STORES = [
  ["atomic", false],
  ["plain", true],
] as const;

describe("the batch loop over fake rings", () => {
  it.each(STORES)(
    "recycles every frame: drops, TX, completions and a full TX ring (%s stores)",
    (_, plain) => {
      const rings = new FakeRings(wasm, "echo", 64, 128, undefined, plain);
      expect(rings.idleFrames()).toBe(128);
      // 64 frames to port 7 fill the TX ring; the next 64 find it full (not completed yet).
      rings.receive(Array.from({ length: 64 }, () => udp(7)));
      expect(rings.batch(rings.ctl, 64)).toBe(64);
      rings.receive(Array.from({ length: 64 }, () => udp(7)));
      expect(rings.batch(rings.ctl, 32)).toBe(32); // the budget bounds a batch
      expect(rings.batch(rings.ctl, 64)).toBe(32);
      expect([rings.counter(CTL.rx), rings.counter(CTL.tx), rings.counter(CTL.txFull)]).toEqual([
        128n,
        64n,
        64n,
      ]);
      expect(rings.transmit()).toHaveLength(64);
      expect(rings.batch(rings.ctl, 64)).toBe(0); // collects the completions
      expect(rings.counter(CTL.completed)).toBe(64n);
      expect(rings.idleFrames()).toBe(128);
      rings.receive(Array.from({ length: 10 }, (_, i) => udp(i === 3 ? 7 : 9)));
      expect(rings.batch(rings.ctl, 64)).toBe(10);
      expect(rings.counter(CTL.drop)).toBe(9n);
      expect(rings.transmit()).toHaveLength(1);
      rings.batch(rings.ctl, 64);
      expect(rings.idleFrames()).toBe(128);
    },
  );

  it("publishes with plain stores only on x86-64", () => {
    expect([releasePlain("x64"), releasePlain("arm64"), releasePlain("ia32")]).toEqual([
      true,
      false,
      false,
    ]);
    const flags = (r: FakeRings) =>
      new DataView(r.memory.buffer).getUint32(r.ctl + CTL.flags, true);
    expect(flags(new FakeRings(wasm, "echo", 64, 128))).toBe(releasePlain() ? RELEASE_PLAIN : 0);
    expect(flags(new FakeRings(wasm, "echo", 64, 128, undefined, false))).toBe(0);
  });

  it("loads each frame's first byte before the handler runs (kept: their OR is written back)", () => {
    const rings = new FakeRings(wasm, "echo", 64, 128);
    const touched = () =>
      new DataView(rings.memory.buffer).getUint32(rings.ctl + CTL.touched, true);
    rings.receive(
      [0x01, 0x04, 0x10].map((b) => {
        const f = udp(9);
        f[0] = b;
        return f;
      }),
    );
    expect(rings.batch(rings.ctl, 64)).toBe(3);
    expect(touched()).toBe(0x15);
    expect(rings.batch(rings.ctl, 64)).toBe(0);
    expect(touched()).toBe(0);
  });
});

describe("the run loop over fake rings", () => {
  const wake = (rings: FakeRings) =>
    new DataView(rings.memory.buffer).getUint32(rings.ctl + CTL.wake, true);

  it("takes whole batches up to its limit, then spins on an empty RX ring and says so", () => {
    const rings = new FakeRings(wasm, "echo", 256, 512);
    const batches0 = rings.counter(CTL.batches);
    rings.receive(Array.from({ length: 200 }, () => udp(9)));
    // 4 batches of 16: the limit, not the ring, ends the call; no idle flag.
    expect(rings.run(rings.ctl, 16, 4, 8)).toBe(64);
    expect(wake(rings)).toBe(0);
    expect(rings.counter(CTL.batches) - batches0).toBe(4n);
    // The rest in batches of 64 (64, 64, 8), then one empty batch and the spins.
    expect(rings.run(rings.ctl, 64, 64, 8)).toBe(136);
    expect(wake(rings)).toBe(WAKE_IDLE);
    expect(rings.counter(CTL.batches) - batches0).toBe(8n);
    expect([rings.counter(CTL.rx), rings.counter(CTL.drop)]).toEqual([200n, 200n]);
    expect(rings.idleFrames()).toBe(512);
    // Nothing arrived: no frame, idle again; zero spins still end the call.
    expect(rings.run(rings.ctl, 64, 64, 0)).toBe(0);
    expect(wake(rings)).toBe(WAKE_IDLE);
    // A batch of 0 frames' budget is an empty batch, not an endless loop.
    rings.receive([udp(9)]);
    expect(rings.run(rings.ctl, 0, 64, 4)).toBe(0);
    expect(rings.counter(CTL.rx)).toBe(200n);
    expect(rings.run(rings.ctl, 64, 1, 4)).toBe(1);
  });

  it("returns after the batch that wants a TX kick", () => {
    const rings = new FakeRings(wasm, "echo", 256, 512);
    rings.setTxNeedWakeup(true);
    rings.receive(Array.from({ length: 100 }, (_, i) => udp(i < 10 ? 7 : 9)));
    expect(rings.run(rings.ctl, 32, 64, 8)).toBe(32);
    expect(wake(rings)).toBe(WAKE_TX);
    expect(rings.transmit()).toHaveLength(10);
    rings.setTxNeedWakeup(false);
    expect(rings.run(rings.ctl, 32, 64, 8)).toBe(68);
    expect(wake(rings)).toBe(WAKE_IDLE);
    expect([rings.counter(CTL.tx), rings.counter(CTL.drop), rings.counter(CTL.completed)]).toEqual([
      10n,
      90n,
      10n,
    ]);
    expect(rings.idleFrames()).toBe(512);
  });
});

describeKernel("the batch loop against the kernel", () => {
  it.each(STORES)(
    "gives the XDP twin's verdicts and bytes over the corpus (%s stores)",
    (_, plain) => {
      const input = packets();
      expect(input.length).toBeGreaterThan(100);
      const obj = loadXdpObject(object);
      let kernel;
      try {
        kernel = runXdp(obj.programFd("echo_xdp"), input);
      } finally {
        obj.close();
      }
      const rings = new FakeRings(wasm, "echo", 256, 512, undefined, plain);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < input.length; i += 200) {
        rings.receive(input.slice(i, i + 200));
        expect(rings.batch(rings.ctl, 256)).toBe(Math.min(200, input.length - i));
        sent.push(...rings.transmit());
        rings.batch(rings.ctl, 0);
      }
      for (const k of kernel) expect([XDP_TX, XDP_DROP]).toContain(k.verdict);
      const want = kernel.filter((k) => k.verdict === XDP_TX).map((k) => hex(k.data));
      expect(want.length).toBeGreaterThan(10);
      expect(sent.map(hex)).toEqual(want);
      expect(rings.counter(CTL.drop)).toBe(BigInt(kernel.length - want.length));
      expect(rings.idleFrames()).toBe(512);
    },
  );
});
