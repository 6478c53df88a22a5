// `xdpc/runtime` against the kernel: spec → collection → link, typed maps (bigint
// values, struct keys, per-CPU arrays, batches, errno-named errors), load-time params,
// ring-buffer events, atomic replace of an attached program, and detach on close and
// on process death (kill -9). Frames come from BPF_PROG_TEST_RUN and, for the attached
// program, from the lab generator through a veth pair.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { until } from "../support/wait.ts";
import { describeKernel } from "../support/kernel.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { destroyLab, labSpec, bringUpLab, type LabSpec } from "../../runtime/lab/netns.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { xdpQuery } from "../../native/xdp.ts";
import { BPF_TCX_INGRESS } from "../../native/link.ts";
import { progQuery } from "../../native/tc.ts";
import { ifNameToIndex } from "../../native/ifname.ts";
import { possibleCpus } from "../../native/object.ts";
import {
  BpfError,
  LoadError,
  ip,
  metricsRegistry,
  open,
  type Collection,
} from "../../runtime/control/index.ts";
import type * as Filter from "./blocklist.ts";

const FILTER = join(import.meta.dirname, "blocklist.ts");
const ROOT = join(import.meta.dirname, "../..");
const XDP_DROP = 1;
const XDP_PASS = 2;

const udp = (src: string, dport: number) =>
  buildFrame({
    srcMac: "02:00:c6:12:3c:02",
    dstMac: "02:00:c6:12:3c:01",
    src,
    dst: "198.18.0.241",
    l4: { proto: "udp", sport: 4000, dport },
  });

describeKernel("xdpc/runtime: collections", () => {
  let coll: Collection<typeof Filter>;
  beforeAll(() => {
    coll = open<typeof Filter>(FILTER).load({ params: { port: 53 } });
  });
  afterAll(() => coll?.close());

  it("a spec lists programs, maps and params without loading anything", () => {
    const spec = open<typeof Filter>(FILTER);
    expect(spec.programs).toEqual([{ name: "blocklist", section: "xdp", type: "xdp" }]);
    expect(spec.maps.map((m) => `${m.name}:${m.type}`)).toEqual([
      "blocked:lpm_trie",
      "hits:hash",
      "seen:percpu_array",
      "limits:array",
      "drops:ringbuf",
    ]);
    expect(spec.params).toEqual([{ name: "port", type: "u16", default: 9 }]);
  });

  it("maps take and give the filter's types; u64 values keep every bit", () => {
    const big = (1n << 60n) + 3n;
    coll.maps.blocked.update({ prefixlen: 24, addr: ip("198.18.1.0") }, big);
    expect(coll.maps.blocked.lookup({ prefixlen: 32, addr: ip("198.18.1.77") })).toBe(big);
    expect(coll.maps.blocked.lookup({ prefixlen: 32, addr: ip("198.18.2.1") })).toBeNull();
    expect([...coll.maps.blocked.keys()]).toEqual([{ prefixlen: 24, addr: ip("198.18.1.0") }]);
    coll.maps.limits.update(2, 7);
    expect(coll.maps.limits.lookup(2)).toBe(7);
    expect(coll.maps.seen.lookup(0)).toEqual(Array(possibleCpus()).fill(0n));
  });

  it("the program sees the maps and the param; the ring buffer yields typed records", async () => {
    const prog = coll.programs.blocklist;
    expect(prog.run(udp("198.18.1.5", 53)).retval).toBe(XDP_DROP);
    expect(prog.run(udp("198.18.1.5", 9)).retval).toBe(XDP_PASS); // port is 53 here, not the default 9
    expect(prog.run(udp("198.18.2.5", 53)).retval).toBe(XDP_PASS);
    expect(prog.run(udp("198.18.1.6", 53)).retval).toBe(XDP_DROP);
    expect(coll.maps.hits.lookup(ip("198.18.1.5"))).toEqual({ packets: 1n, bytes: 60n });
    expect(coll.maps.blocked.lookup({ prefixlen: 24, addr: ip("198.18.1.0") })).toBe(
      (1n << 60n) + 5n,
    );
    const seen = coll.maps.seen.lookup(0)!;
    expect(seen.reduce((a, b) => a + b, 0n)).toBe(4n);
    const records: unknown[] = [];
    for await (const ev of coll.ringbuf("drops")) {
      records.push(ev.record);
      if (records.length === 2) break;
    }
    expect(records).toEqual([
      { src: ip("198.18.1.5"), dstPort: 53, len: 60 },
      { src: ip("198.18.1.6"), dstPort: 53, len: 60 },
    ]);
  });

  it("globals and params are read and written in the program's memory", () => {
    expect(coll.globals.dropped).toBe(2n); // the two drops of the test before
    expect(coll.globals.port).toBe(53);
    expect(coll.globals.enabled).toBe(true);
    expect(Object.keys(coll.globals).sort()).toEqual(["dropped", "enabled", "port"]);
    coll.globals.enabled = false;
    expect(coll.programs.blocklist.run(udp("198.18.1.5", 53)).retval).toBe(XDP_PASS);
    coll.globals.enabled = true;
    expect(coll.programs.blocklist.run(udp("198.18.1.5", 53)).retval).toBe(XDP_DROP);
    expect(coll.globals.dropped).toBe(3n);
    coll.globals.dropped = (1n << 62n) + 1n;
    expect(coll.programs.blocklist.run(udp("198.18.1.5", 53)).retval).toBe(XDP_DROP);
    expect(coll.globals.dropped).toBe((1n << 62n) + 2n);
    expect(() => {
      // @ts-expect-error read-only to tsc too
      coll.globals.port = 1;
    }).toThrow(/load-time parameter/);
  });

  it("batch updates and deletes; errors carry the errno's name", () => {
    const entries = Array.from(
      { length: 100 },
      (_, i) => [i + 1, { packets: BigInt(i), bytes: 0n }] as const,
    );
    coll.maps.hits.updateBatch(entries);
    expect([...coll.maps.hits.keys()].length).toBe(102);
    expect(coll.maps.hits.lookup(100)).toEqual({ packets: 99n, bytes: 0n });
    // 1..100 present, 1000 and 1001 absent: 100 deleted.
    expect(coll.maps.hits.deleteBatch([...entries.map(([k]) => k), 1000, 1001])).toBe(100);
    expect([...coll.maps.hits.entries()].map(([k]) => k).sort()).toEqual(
      [ip("198.18.1.5"), ip("198.18.1.6")].sort(),
    );
    const refused = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(BpfError);
        return (e as BpfError).code;
      }
      return "accepted";
    };
    expect(
      refused(() => coll.maps.hits.update(ip("198.18.1.5"), { packets: 0n, bytes: 0n }, "noexist")),
    ).toBe("EEXIST");
    expect(refused(() => coll.maps.hits.update(42, { packets: 0n, bytes: 0n }, "exist"))).toBe(
      "ENOENT",
    );
    expect(refused(() => coll.maps.limits.update(4, 1))).toBe("E2BIG");
    const many = Array.from(
      { length: 300 },
      (_, i) => [5000 + i, { packets: 0n, bytes: 0n }] as const,
    );
    expect(refused(() => coll.maps.hits.updateBatch(many))).toBe("E2BIG");
    expect(coll.maps.hits.delete(999_999)).toBe(false);
  });

  it("bad params and a broken filter are LoadErrors with the reason", () => {
    const spec = open<typeof Filter>(FILTER);
    expect(() => spec.load({ params: { port: 70000 } })).toThrow(
      /out of range for parameter 'port/,
    );
    // @ts-expect-error refused by tsc, and by the loader without the filter's types
    expect(() => spec.load({ params: { nope: 1 } })).toThrow(LoadError);
    expect(() => open(new Uint8Array([1, 2, 3]))).toThrow(/not an ELF object/);
  });
});

describeKernel("xdpc/runtime: links", () => {
  let lab: LabSpec;
  let remove: () => void;
  beforeAll(() => {
    lab = labSpec("xdpc-ctl", 60);
    destroyLab(lab);
    remove = bringUpLab(lab);
  }, 60_000);
  afterAll(() => remove?.());

  const attachedId = () => xdpQuery(ifNameToIndex(lab.hostIf)).progId;

  it("attaches with a bpf_link, replaces atomically, detaches on close", async () => {
    await using a = open<typeof Filter>(FILTER).load({ params: { port: 9 } });
    await using b = open<typeof Filter>(FILTER).load({ params: { port: 9 } });
    a.maps.blocked.update({ prefixlen: 16, addr: ip("198.18.0.0") }, 0n);
    b.maps.blocked.update({ prefixlen: 16, addr: ip("198.18.0.0") }, 0n);
    {
      await using link = a.programs.blocklist.attachXdp(lab.hostIf, { mode: "native" });
      expect(link.mode).toBe("native");
      expect(attachedId()).toBe(a.programs.blocklist.id);
      const gen = new TrafficGenerator(lab.name, lab.peerIf);
      const frame = buildFrame({
        srcMac: lab.peerMac,
        dstMac: lab.hostMac,
        src: lab.peerAddr,
        dst: lab.hostAddr,
        l4: { proto: "udp", sport: 4000, dport: 9 },
      });
      try {
        await gen.generate({ mix: [{ name: "udp", frame, weight: 1 }], count: 500 });
        const key = { prefixlen: 16, addr: ip("198.18.0.0") };
        await until(() => a.maps.blocked.lookup(key) === 500n, 10_000, "500 frames in a's map");
        link.update(b.programs.blocklist);
        expect(link.programId).toBe(b.programs.blocklist.id);
        expect(attachedId()).toBe(b.programs.blocklist.id);
        await gen.generate({ mix: [{ name: "udp", frame, weight: 1 }], count: 300 });
        await until(() => b.maps.blocked.lookup(key) === 300n, 10_000, "300 frames in b's map");
        expect(a.maps.blocked.lookup(key)).toBe(500n);
        // The stats stream and the Prometheus registry follow the link to b's program.
        for await (const line of link.stats({ intervalMs: 50 })) {
          expect(line.progId).toBe(b.programs.blocklist.id);
          expect(line.counters.find((r) => r.name === "dropped")).toMatchObject({
            kind: "global",
            total: 300n,
          });
          expect(line.counters.find((r) => r.name === "seen[0]")?.total).toBe(300n);
          break;
        }
        const text = await metricsRegistry(link).metrics();
        expect(text).toContain(
          `xdpc_global_value{iface="${lab.hostIf}",program="blocklist",name="dropped"} 300`,
        );
      } finally {
        gen.close();
      }
      // A second link on the same interface is refused while the first holds it.
      expect(() => a.programs.blocklist.attachXdp(lab.hostIf)).toThrow(
        new RegExp(
          `already has an XDP program attached \\(id ${b.programs.blocklist.id}\\).*\\[EBUSY\\]`,
        ),
      );
    }
    expect(attachedId()).toBe(0);
  });

  it("attachTc: a tcx link beside the XDP program, replaced atomically, detached on close", async () => {
    const TC = join(ROOT, "filters/tc/egress_policy.ts");
    const ifindex = ifNameToIndex(lab.hostIf);
    const tcx = () => progQuery(ifindex, BPF_TCX_INGRESS);
    // An XDP program on the receiving veth runs its NAPI, which the generator's live
    // frames need; with an empty blocklist it passes every frame on to tc.
    await using x = open<typeof Filter>(FILTER).load({ params: { port: 9 } });
    await using xl = x.programs.blocklist.attachXdp(lab.hostIf);
    expect(xl.hook).toBe("xdp");
    await using t1 = open(TC).load();
    await using t2 = open(TC).load();
    for (const t of [t1, t2]) t.maps.policies!.update(9, { mark: 5, priority: 0, drop: 0 });
    const gen = new TrafficGenerator(lab.name, lab.peerIf);
    const frame = buildFrame({
      srcMac: lab.peerMac,
      dstMac: lab.hostMac,
      src: lab.peerAddr,
      dst: lab.hostAddr,
      l4: { proto: "udp", sport: 4000, dport: 9 },
    });
    try {
      {
        await using link = t1.programs.egress_policy!.attachTc(lab.hostIf, {
          direction: "ingress",
        });
        expect([link.mode, link.hook]).toEqual(["tcx", "tc-ingress"]);
        expect(tcx()).toEqual([t1.programs.egress_policy!.id]);
        await gen.generate({ mix: [{ name: "udp", frame, weight: 1 }], count: 200 });
        await until(() => t1.maps.perMark!.lookup(5) === 200n, 10_000, "200 frames marked by t1");
        link.update(t2.programs.egress_policy!);
        expect(tcx()).toEqual([t2.programs.egress_policy!.id]);
        await gen.generate({ mix: [{ name: "udp", frame, weight: 1 }], count: 100 });
        await until(() => t2.maps.perMark!.lookup(5) === 100n, 10_000, "100 frames marked by t2");
        expect(t1.maps.perMark!.lookup(5)).toBe(200n);
        expect(() => link.update(x.programs.blocklist)).toThrow(/takes a tc program/);
      }
      expect(tcx()).toEqual([]);
    } finally {
      gen.close();
    }
    expect(() => x.programs.blocklist.attachTc(lab.hostIf, { direction: "egress" })).toThrow(
      /'blocklist' is an XDP program, not a tc program/,
    );
  });

  it("a process killed with SIGKILL leaves nothing attached", async () => {
    const script = `import { open } from "${ROOT}/runtime/control/index.ts";
const coll = open(${JSON.stringify(FILTER)}).load();
const link = coll.programs.blocklist.attachXdp(${JSON.stringify(lab.hostIf)});
process.stdout.write("attached " + link.programId + "\\n");
setInterval(() => {}, 1000);
`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    await until(() => /attached \d+/.test(out), 60_000, "the child to attach");
    const id = Number(/attached (\d+)/.exec(out)![1]);
    expect(attachedId()).toBe(id);
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    await until(() => attachedId() === 0, 10_000, "the kernel to drop the dead process's link");
  });
});

describeKernel("xdpc/runtime: verifier", () => {
  it("a rejected object is a LoadError of kind verifier, with the diagnostic", async () => {
    const { compile } = await import("../../compiler/driver/index.ts");
    const { readFileSync } = await import("node:fs");
    const { readObject } = await import("../../compiler/elf/object.ts");
    const bytes = compile(readFileSync(FILTER, "utf8"), { file: FILTER, emit: "object" }).object!;
    const copy = new Uint8Array(bytes);
    const text = readObject(copy).elf.section("xdp")!.data;
    expect(text.buffer).toBe(copy.buffer); // a view: patching it patches the object
    text.set([0x61, 0x50, 0, 0, 0, 0, 0, 0]); // r0 = *(u32 *)(r5 + 0): r5 was never written
    let err: unknown;
    try {
      open(copy).load();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoadError);
    expect((err as LoadError).kind).toBe("verifier");
    expect((err as LoadError).message).toMatch(/the kernel verifier rejected 'blocklist'/);
    expect((err as LoadError).diagnostics.join("\n")).toMatch(/R5 !read_ok|R5/);
  });
});
