import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { compile } from "../../compiler/driver/index.ts";
import { mapLookup } from "../../native/object.ts";
import { describeKernel, kernelLoadReason } from "../support/kernel.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { attachNative, labStatus } from "../../runtime/lab/control.ts";
import { progInfo } from "../../native/info.ts";
import { destroyLab, labSpec, withLab, type LabSpec } from "../../runtime/lab/netns.ts";
import {
  BackgroundGenerator,
  DEFAULT_CHUNK,
  defaultTransport,
  liveFramesAllowed,
  parseCidr,
  randomizeSources,
  splitByWeight,
  TrafficGenerator,
  type Transport,
} from "../../runtime/lab/generator.ts";
import { buildFrame, inetChecksum, TCP_SYN } from "../../runtime/packets/build.ts";
import { closeFd, loadRawProgram, testRun } from "../../native/bpf.ts";
import { encode } from "../../compiler/bpf/encode.ts";
import { randomSourceProgram, redirectProgram } from "../../compiler/bpf/programs.ts";
import { BPF_FUNC } from "../../compiler/uapi/bpf.ts";

// The receiver: drops everything (so the stack never answers) and counts frames per
// UDP destination port modulo 8, and non-UDP frames in slot 8.
const SINK = `import { XdpContext, XdpAction, XDP_DROP, ArrayMap, u64 } from "xdpc";
const seen = new ArrayMap<u64>({ maxEntries: 9 });
export function sink(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null) { seen.increment(8); return XDP_DROP; }
  seen.increment(udp.dstPort & 7);
  return XDP_DROP;
}`;

describe("traffic mix split", () => {
  it("splits exactly and deterministically by largest remainder", () => {
    expect(splitByWeight(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(splitByWeight(1000, [9, 1])).toEqual([900, 100]);
    expect(splitByWeight(7, [0, 2, 5])).toEqual([0, 2, 5]);
    expect(splitByWeight(0, [1, 2])).toEqual([0, 0]);
    for (const total of [1, 17, 999, 123457])
      expect(splitByWeight(total, [3, 5, 0.5, 11]).reduce((a, b) => a + b)).toBe(total);
    expect(() => splitByWeight(5, [0, 0])).toThrow(/positive weight/);
  });
  it("the generator program is bpf_redirect(ifindex, 0)", () => {
    const p = redirectProgram(42);
    expect(p[0]!.imm).toBe(42);
    expect(p[2]!.imm).toBe(BPF_FUNC.redirect);
  });
});

/** A frame from a lab's sending end to its receiver. */
function labFrame(lab: LabSpec, l4: Parameters<typeof buildFrame>[0]["l4"], minLength?: number) {
  return buildFrame({
    srcMac: lab.peerMac,
    dstMac: lab.hostMac,
    src: lab.peerAddr,
    dst: lab.hostAddr,
    l4,
    ...(minLength === undefined ? {} : { minLength }),
  });
}

/** Whether the frame's IPv4 header and TCP/UDP checksums verify (ones'-complement sum over them is 0). */
function checksumsValid(f: Uint8Array): boolean {
  const ihl = (f[14]! & 15) * 4;
  const total = (f[16]! << 8) | f[17]!;
  if (inetChecksum(f.subarray(14, 14 + ihl)) !== 0) return false;
  const proto = f[23]!;
  const seg = f.subarray(14 + ihl, 14 + total);
  if (proto === 1) return inetChecksum(seg) === 0; // ICMP: no pseudo-header
  if (proto === 17 && seg[6] === 0 && seg[7] === 0) return true;
  const pseudo = new Uint8Array(12);
  pseudo.set(f.subarray(26, 34), 0);
  pseudo[9] = proto;
  new DataView(pseudo.buffer).setUint16(10, seg.length);
  return inetChecksum(pseudo, seg) === 0;
}

const rewriteFrames = {
  tcp: buildFrame({
    srcMac: "02:00:00:00:00:01",
    dstMac: "02:00:00:00:00:02",
    src: "198.18.0.2",
    dst: "198.18.0.1",
    l4: { proto: "tcp", sport: 1, dport: 80, flags: TCP_SYN },
  }),
  udp: buildFrame({
    srcMac: "02:00:00:00:00:01",
    dstMac: "02:00:00:00:00:02",
    src: "198.18.0.2",
    dst: "198.18.0.1",
    l4: { proto: "udp", sport: 1, dport: 53 },
    payload: new Uint8Array([1, 2, 3]),
  }),
  icmp: buildFrame({
    srcMac: "02:00:00:00:00:01",
    dstMac: "02:00:00:00:00:02",
    src: "198.18.0.2",
    dst: "198.18.0.1",
    l4: { proto: "icmp" },
  }),
};

/**
 * Rewrites a frame 300 times with `step` (each output fed back in, as both transports
 * reuse a frame's bytes) and checks every result: a source in 198.19.128.0/17, valid
 * checksums, nothing else changed, and many distinct sources.
 */
function checkRewrites(kind: keyof typeof rewriteFrames, step: (f: Uint8Array) => Uint8Array) {
  const original = rewriteFrames[kind];
  expect(checksumsValid(original)).toBe(true);
  const broken = new Uint8Array(original);
  broken[27]! ^= 1;
  expect(checksumsValid(broken)).toBe(false); // the check can fail
  // Nothing else changes: compare with the address and the checksums blanked.
  const blank = (f: Uint8Array) => {
    const c = new Uint8Array(f);
    for (const o of [
      24,
      25,
      26,
      27,
      28,
      29,
      ...(kind === "tcp" ? [50, 51] : kind === "udp" ? [40, 41] : []),
    ])
      c[o] = 0;
    return c;
  };
  const sources = new Set<string>();
  let frame = original;
  for (let i = 0; i < 300; i++) {
    frame = step(frame);
    expect(frame[26]).toBe(198);
    expect(frame[27]).toBe(19);
    expect(frame[28]! & 0x80).toBe(0x80);
    expect(checksumsValid(frame)).toBe(true);
    expect(blank(frame)).toEqual(blank(original));
    sources.add(frame.subarray(26, 30).join("."));
  }
  expect(sources.size).toBeGreaterThan(250);
}

describe("random source addresses, packet transport (JavaScript)", () => {
  it.each(["tcp", "udp", "icmp"] as const)(
    "rewrites %s frames to random sources in the prefix with valid checksums",
    (kind) =>
      checkRewrites(kind, (f) => {
        const out = new Uint8Array(f);
        randomizeSources(out, out.length, 1, parseCidr("198.19.128.0/17"));
        return out;
      }),
  );
  it("rewrites each frame of a batch on its own, and a zero UDP checksum stays zero", () => {
    const one = rewriteFrames.udp;
    const batch = new Uint8Array(one.length * 4);
    for (let i = 0; i < 4; i++) batch.set(one, i * one.length);
    batch[one.length * 3 + 40] = batch[one.length * 3 + 41] = 0; // the last: "no checksum"
    randomizeSources(batch, one.length, 3, parseCidr("198.19.128.0/17"));
    for (let i = 0; i < 3; i++) {
      const f = batch.subarray(i * one.length, (i + 1) * one.length);
      expect([f[26], f[27]]).toEqual([198, 19]);
      expect(checksumsValid(f)).toBe(true);
    }
    const last = batch.subarray(3 * one.length);
    expect([last[26], last[27], last[40], last[41]]).toEqual([198, 18, 0, 0]); // beyond count: untouched
    randomizeSources(last, one.length, 1, parseCidr("198.19.128.0/17"));
    expect([last[26], last[27], last[40], last[41]]).toEqual([198, 19, 0, 0]);
    expect(() => randomizeSources(one.subarray(0, 40), 40, 1, parseCidr("1.2.3.0/24"))).toThrow(
      /randomSource needs/,
    );
  });
});

describeKernel("random source addresses, live transport (BPF)", () => {
  it.each(["tcp", "udp", "icmp"] as const)(
    "rewrites %s frames to random sources in the prefix with valid checksums",
    (kind) => {
      const l4 = kind === "icmp" ? "other" : kind;
      const { fd } = loadRawProgram(
        encode(randomSourceProgram(1, parseCidr("198.19.128.0/17"), l4)),
        { logLevel: 0 },
      );
      try {
        checkRewrites(kind, (f) => {
          const r = testRun(fd, f, { repeat: 1 });
          expect(r.retval).toBe(4); // XDP_REDIRECT
          return r.data;
        });
      } finally {
        closeFd(fd);
      }
    },
  );
  it("parses prefixes and refuses bad ones", () => {
    expect(parseCidr("198.19.128.0/17")).toEqual({ base: 0xc6138000, hostMask: 0x7fff });
    expect(parseCidr("10.1.2.3/32")).toEqual({ base: 0x0a010203, hostMask: 0 });
    expect(parseCidr("10.1.2.3/0")).toEqual({ base: 0, hostMask: 0xffffffff });
    expect(() => parseCidr("10.1.2/8")).toThrow(/bad IPv4 prefix/);
    expect(() => parseCidr("10.1.2.3/33")).toThrow(/bad IPv4 prefix/);
  });
});

// Both transports: the packet socket everywhere, live frames where the kernel runs them.
const liveRefused = (await kernelLoadReason()) === null && !liveFramesAllowed();

function onVethPair(transport: Transport) {
  return () => {
    const name = "xdpctgen";
    let sink: XdpObject;
    let lab: LabSpec;
    let gen: TrafficGenerator;
    let detach: () => void;
    let done: () => void;
    let release: Promise<void>;

    const counts = () =>
      Array.from({ length: 9 }, (_, i) => {
        const v = mapLookup(sink.mapFd("seen"), new Uint8Array(new Uint32Array([i]).buffer), 8)!;
        return Number(Buffer.from(v).readBigUInt64LE());
      });
    const udp = (dport: number, len = 60) =>
      labFrame(lab, { proto: "udp", sport: 4000, dport }, len);

    beforeAll(async () => {
      const out = compile(SINK, { file: "sink.ts", emit: "object" });
      expect(out.diagnostics).toEqual([]);
      sink = loadXdpObject(out.object!);
      // Keep the lab up for the whole file: withLab's callback waits on `release`.
      await new Promise<void>((ready) => {
        release = withLab(
          name,
          (spec) => {
            lab = spec;
            detach = attachNative(spec.hostIf, sink.programFd());
            gen = new TrafficGenerator(spec.name, spec.peerIf, { transport });
            ready();
            return new Promise<void>((r) => (done = r));
          },
          5,
        );
      });
    });
    afterAll(async () => {
      gen?.close();
      detach?.();
      done?.();
      await release;
      sink?.close();
      destroyLab(labSpec(name));
    });

    it("delivers exactly N frames of each template to the peer", async () => {
      const before = counts();
      const report = await gen.generate({
        mix: [
          { name: "a", frame: udp(1), weight: 3 },
          { name: "b", frame: udp(2, 1000), weight: 1 },
          {
            name: "syn",
            frame: labFrame(lab, { proto: "tcp", sport: 1, dport: 80, flags: TCP_SYN }),
            weight: 1,
          },
        ],
        count: 100_003,
        chunk: 40_000,
      });
      expect(report.sent).toBe(100_003);
      expect(report.perTemplate).toEqual({ a: 60_002, b: 20_001, syn: 20_000 });
      const after = counts();
      expect(after[1]! - before[1]!).toBe(60_002);
      expect(after[2]! - before[2]!).toBe(20_001);
      expect(after[8]! - before[8]!).toBe(20_000);
      expect(after[0]! - before[0]!).toBe(0);
    });

    it("sends single frames and large bursts exactly", () => {
      const before = counts()[3]!;
      gen.send(udp(3), 1);
      gen.send(udp(3), DEFAULT_CHUNK);
      expect(counts()[3]! - before).toBe(DEFAULT_CHUNK + 1);
    });

    it("a signal during a run (SIGCHLD from a child) neither interrupts it nor loses frames", async () => {
      const before = counts()[3]!;
      // Children exiting while the kernel transmits: SIGCHLD lands on this thread mid-run.
      const children = Array.from({ length: 4 }, (_, i) =>
        spawn("sleep", [String(0.02 * (i + 1))]),
      );
      gen.send(udp(3), 1 << 22);
      await Promise.all(
        children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on("exit", r)))),
      );
      expect(counts()[3]! - before).toBe(1 << 22);
    });

    it("keeps to a rate limit over a duration", async () => {
      const before = counts()[4]!;
      const r = await gen.generate({
        mix: [{ name: "slow", frame: udp(4), weight: 1 }],
        pps: 50_000,
        durationMs: 600,
      });
      // 600 ms at 50 kpps is a budget of 30 000 frames, sent in 5 000-frame chunks that never
      // run more than one chunk ahead of the schedule. A slow machine may send fewer, never more.
      expect(r.sent).toBeGreaterThanOrEqual(5_000);
      expect(r.sent).toBeLessThanOrEqual(30_000);
      expect(r.sent % 5_000).toBe(0);
      expect(r.sent).toBeLessThanOrEqual((50_000 * r.elapsedMs) / 1000 + 5_000);
      expect(counts()[4]! - before).toBe(r.sent);
    });

    it("stops between chunks when aborted", async () => {
      const ac = new AbortController();
      const r = await gen.generate({
        mix: [{ name: "x", frame: udp(5), weight: 1 }],
        count: 1_000_000,
        chunk: 10_000,
        onProgress: (p) => {
          if (p.sent >= 30_000) ac.abort();
        },
        signal: ac.signal,
      });
      expect(r.sent).toBe(30_000);
    });

    it("runs in a worker thread while the caller's event loop keeps turning", async () => {
      const before = counts()[6]!;
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const seen: number[] = [];
      const bg = BackgroundGenerator.start(
        lab.name,
        lab.peerIf,
        {
          mix: [{ name: "bg", frame: udp(6), weight: 1 }],
          count: 3_000_000,
          chunk: 500_000,
          transport,
        },
        (p) => seen.push(p.sent),
      );
      const report = await bg.done;
      clearInterval(timer);
      expect(report.sent).toBe(3_000_000);
      expect(seen).toEqual([500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000]);
      expect(bg.progress().sent).toBe(3_000_000);
      expect(counts()[6]! - before).toBe(3_000_000);
      // Run on this thread, the generator would block it until done: no timer could fire first.
      expect(ticks).toBeGreaterThan(0);
    });

    it("a background run stops on request and reports exactly what it sent", async () => {
      const before = counts()[7]!;
      // A count no run reaches: only the stop can end it.
      const bg = BackgroundGenerator.start(lab.name, lab.peerIf, {
        mix: [{ name: "x", frame: udp(7), weight: 1 }],
        count: 1e12,
        chunk: 50_000,
        transport,
      });
      await new Promise<void>((r) => {
        const t = setInterval(() => {
          if (bg.progress().sent > 0) {
            clearInterval(t);
            r();
          }
        }, 5);
      });
      bg.stop();
      const report = await bg.done;
      expect(report.sent).toBeGreaterThan(0);
      expect(report.sent).toBeLessThan(1e12);
      expect(report.sent % 50_000).toBe(0);
      expect(counts()[7]! - before).toBe(report.sent);
    });

    it("a background run reports errors from the worker", async () => {
      const bg = BackgroundGenerator.start(lab.name, "nosuchif0", {
        mix: [{ name: "x", frame: udp(7), weight: 1 }],
        count: 1,
      });
      await expect(bg.done).rejects.toThrow(/nosuchif0/);
    });

    it("floods from random sources: every frame arrives, from many addresses", async () => {
      const before = counts()[8]!;
      const syn = labFrame(lab, { proto: "tcp", sport: 1, dport: 80, flags: TCP_SYN });
      const r = await gen.generate({
        mix: [{ name: "botnet", frame: syn, weight: 1, randomSource: "198.19.0.0/16" }],
        count: 200_000,
      });
      expect(r.sent).toBe(200_000);
      expect(counts()[8]! - before).toBe(200_000);
      await expect(
        gen.generate({
          mix: [
            {
              name: "bad",
              frame: udp(1).subarray(0, 40),
              weight: 1,
              randomSource: "198.19.0.0/16",
            },
          ],
          count: 1,
        }),
      ).rejects.toThrow(/randomSource needs/);
    });

    it("lab status shows the attached program; the detacher removes exactly it", () => {
      const id = progInfo(sink.programFd()).id;
      expect(labStatus(name)).toMatchObject({
        netns: true,
        hostIf: true,
        peerIf: true,
        xdpProgId: id,
      });
      // Made with index 5: status reads the real addresses, not the defaults.
      expect(labStatus(name).spec).toMatchObject({
        hostAddr: "198.18.0.21",
        peerAddr: "198.18.0.22",
        prefixLen: 30,
        hostMac: "02:00:c6:12:05:01",
        peerMac: "02:00:c6:12:05:02",
      });
      detach();
      expect(labStatus(name).xdpProgId).toBeUndefined();
      detach(); // twice is harmless
    });

    it.runIf(transport === "packet")(
      "uses the transport asked for, and says why live frames cannot be",
      () => {
        expect(gen.transport).toBe("packet");
        expect(defaultTransport()).toBe(liveRefused ? "packet" : "live");
        if (liveRefused)
          expect(() => new TrafficGenerator(lab.name, lab.peerIf, { transport: "live" })).toThrow(
            /this kernel refuses BPF_PROG_TEST_RUN live frames \(EPERM\); use the packet transport/,
          );
        const saved = process.env.XDPC_TRAFFICGEN;
        try {
          process.env.XDPC_TRAFFICGEN = "packet";
          expect(defaultTransport()).toBe("packet");
          process.env.XDPC_TRAFFICGEN = "udp";
          expect(() => defaultTransport()).toThrow(/XDPC_TRAFFICGEN is 'udp' \(live or packet\)/);
        } finally {
          if (saved === undefined) delete process.env.XDPC_TRAFFICGEN;
          else process.env.XDPC_TRAFFICGEN = saved;
        }
      },
    );

    it("refuses frames outside the kernel's limits and bad mixes", async () => {
      expect(() => gen.send(new Uint8Array(10), 1)).toThrow(/outside the generator's 14..3520/);
      await expect(gen.generate({ mix: [] })).rejects.toThrow(/empty/);
      await expect(
        gen.generate({ mix: [{ name: "x", frame: udp(6), weight: 1 }], pps: 0, count: 1 }),
      ).rejects.toThrow(/bad rate/);
    });
  };
}

for (const transport of ["live", "packet"] as const) {
  const title = `traffic generator on a veth pair (${transport})`;
  if (transport === "live" && liveRefused)
    describe.skip(`${title} [skipped: this kernel refuses live frames]`, onVethPair(transport));
  else describeKernel(title, onVethPair(transport));
}

/** A counter from /proc/net/netstat ("TcpExt", "IPReversePathFilter"), in this namespace. */
function netstat(group: string, name: string): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const keys = lines[i]!.split(/\s+/);
    const vals = lines[i + 1]!.split(/\s+/);
    if (keys[0] === `${group}:`) return Number(vals[keys.indexOf(name)]);
  }
  throw new Error(`no ${group} ${name}`);
}

describeKernel("lab traffic stays in the lab", () => {
  const name = "xdpctrpf";
  afterAll(() => void destroyLab(labSpec(name)));

  it("spoofed sources that a filter passes are dropped by the receiver's reverse-path filter, never answered", async () => {
    await withLab(
      name,
      async (lab) => {
        expect(readFileSync(`/proc/sys/net/ipv4/conf/${lab.hostIf}/rp_filter`, "utf8").trim()).toBe(
          "1",
        );
        const pass = loadRawProgram(
          new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]),
          { logLevel: 0 },
        ).fd;
        const detach = attachNative(lab.hostIf, pass);
        const gen = new TrafficGenerator(lab.name, lab.peerIf);
        try {
          const syn = labFrame(lab, { proto: "tcp", sport: 1, dport: 9, flags: TCP_SYN });
          const before = netstat("TcpExt", "IPReversePathFilter");
          await gen.generate({
            mix: [{ name: "spoofed", frame: syn, weight: 1, randomSource: "198.19.0.0/16" }],
            count: 2000,
          });
          expect(netstat("TcpExt", "IPReversePathFilter") - before).toBeGreaterThanOrEqual(2000);
        } finally {
          gen.close();
          detach();
          closeFd(pass);
        }
      },
      6,
    );
  });
});
