// TypedMap on real kernel maps: objects built by compile() of a fixture filter and
// of filters/*.ts, loaded through libbpf under a private pin root, driven with
// BPF_PROG_TEST_RUN, then read back with exact expected values.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { compile } from "../../compiler/driver/index.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { testRun } from "../../native/bpf.ts";
import { possibleCpus } from "../../native/object.ts";
import { batchlessMapTypes, programMaps, TypedMap, findMap } from "../../runtime/observe/maps.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, checkFdLeaks, type XdpObject } from "../support/xdp.ts";
import { udp4, udp6, tcp4, ethHeader, concat } from "../../runtime/packets/build.ts";

function build(path: string): Uint8Array {
  const source = readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
  const out = compile(source, { file: path, emit: "object" });
  if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  return out.object;
}

describeKernel("TypedMap on kernel maps (fixture)", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  let prog: number;
  const open = (name: string) => TypedMap.fromObject(obj.object, bytes, name);
  beforeAll(() => {
    bytes = build("test/runtime/fixtures/observe.ts");
    obj = loadXdpObject(bytes);
    prog = obj.programFd();
  });
  afterAll(() => obj?.close());
  checkFdLeaks("each");

  it("sums per-CPU counters and shows them per CPU", () => {
    const counts = open("counts");
    expect(counts.perCpu).toBe(true);
    expect(counts.cpus).toBe(possibleCpus());
    counts.set(0, 0n);
    counts.set(1, 0n);
    for (let i = 0; i < 3; i++) testRun(prog, udp4({ dport: 9 }));
    testRun(prog, concat(ethHeader({}, 0x0806), new Uint8Array(28)));
    expect(counts.get(1)).toBe(3n);
    expect(counts.get(0)).toBe(1n);
    const per = counts.getPerCpu(1)!;
    expect(per).toHaveLength(possibleCpus());
    expect(per.reduce<bigint>((a, b) => a + (b as bigint), 0n)).toBe(3n);
    // Writing per CPU, then reading the sum.
    counts.set(
      2,
      Array.from({ length: counts.cpus }, (_, i) => BigInt(i + 1)),
      { perCpu: true },
    );
    const n = BigInt(counts.cpus);
    expect(counts.get(2)).toBe((n * (n + 1n)) / 2n);
    // One value: CPU 0 gets it, the others zero, so the sum reads back as set.
    counts.set(3, 5n);
    expect(counts.get(3)).toBe(5n);
    expect(counts.getPerCpu(3)).toEqual([5n, ...Array(counts.cpus - 1).fill(0n)]);
    counts.set(3, 0n);
    const entries = [...counts.entries()];
    expect(entries.map((e) => e.key)).toEqual([0, 1, 2, 3]);
    expect(entries[1]!.value).toBe(3n);
    expect(entries[1]!.perCpu).toHaveLength(counts.cpus);
  });

  it("decodes struct keys and values, addresses as dotted strings", () => {
    const flows = open("flows");
    for (const k of [...flows.keys()]) flows.delete(k);
    const p1 = udp4({ dport: 53 }, { src: "198.18.0.7", dst: "198.19.0.1" });
    const p2 = udp4({ dport: 53 }, { src: "198.18.0.7", dst: "198.19.0.1" }, new Uint8Array(10));
    testRun(prog, p1);
    testRun(prog, p2);
    const all = [...flows.entries()];
    expect(all).toEqual([
      {
        key: { src: "198.18.0.7", dst: "198.19.0.1", port: 53, proto: 17 },
        value: { packets: 2n, bytes: BigInt(p1.length + p2.length), lastLen: p2.length, udp: true },
      },
    ]);
    // Keys accepted as dotted strings or as numbers.
    expect(flows.get({ src: 0xc6120007, dst: "198.19.0.1", port: 53, proto: 17 })).toEqual(
      all[0]!.value,
    );
    // A value written from userspace is what the program then updates.
    flows.set(
      { src: "198.18.0.9", dst: "198.19.0.1", port: 53, proto: 17 },
      { packets: 100n, bytes: 0n, lastLen: 0, udp: false },
    );
    testRun(prog, udp4({ dport: 53 }, { src: "198.18.0.9", dst: "198.19.0.1" }));
    expect(flows.get({ src: "198.18.0.9", dst: "198.19.0.1", port: 53, proto: 17 })).toMatchObject({
      packets: 101n,
      udp: false,
    });
    expect(flows.delete({ src: "198.18.0.9", dst: "198.19.0.1", port: 53, proto: 17 })).toBe(true);
    expect(flows.delete({ src: "198.18.0.9", dst: "198.19.0.1", port: 53, proto: 17 })).toBe(false);
    expect(flows.get({ src: "198.18.0.9", dst: "198.19.0.1", port: 53, proto: 17 })).toBeNull();
    expect(() =>
      flows.set({ src: "198.18.0.9", dst: 1, port: 70000, proto: 17 }, { packets: 1n }),
    ).toThrow(/\.port: 70000 does not fit u16/);
  });

  it("LpmTrie keys are CIDR strings, stored big-endian so the kernel's prefix match works", () => {
    const trie = open("blocked");
    const hits = open("ruleHits");
    expect(trie.key.cidr).toEqual({ field: "addr", bits: 32 });
    trie.set("198.18.0.0/15", 3);
    trie.set("198.18.7.0/24", 5);
    // The raw key is prefixlen (LE) then the address in network order.
    expect([...trie.rawKeys()].map((k) => Buffer.from(k).toString("hex")).sort()).toEqual([
      "0f000000c6120000",
      "18000000c6120700",
    ]);
    expect(new Set(trie.keys())).toEqual(new Set(["198.18.0.0/15", "198.18.7.0/24"]));
    expect(trie.get("198.18.7.0/24")).toBe(5);
    expect(trie.get({ prefixlen: 15, addr: "198.18.0.0" })).toBe(3);
    for (let i = 0; i < 8; i++) hits.set(i, 0);
    expect(testRun(prog, udp4({}, { src: "198.18.7.9" })).retval).toBe(1); // longest match: rule 5
    expect(testRun(prog, udp4({}, { src: "198.19.200.1" })).retval).toBe(1); // /15: rule 3
    expect(testRun(prog, udp4({}, { src: "198.18.7.9" })).retval).toBe(1);
    expect(testRun(prog, udp4({}, { src: "10.0.0.1" })).retval).toBe(2);
    expect([...hits.entries()].map((e) => e.value)).toEqual([0, 0, 0, 1, 0, 2, 0, 0]);
    expect(trie.delete("198.18.7.0/24")).toBe(true);
    expect(testRun(prog, udp4({}, { src: "198.18.7.9" })).retval).toBe(1);
    expect(hits.get(3)).toBe(2);
    expect(() => trie.set("198.18.0.0/33", 1)).toThrow(/prefix length 33/);
    expect(() => hits.delete(1)).toThrow(/array/);
  });

  it("batch dumps equal key-by-key dumps across chunk boundaries", () => {
    const flows = open("flows");
    for (const k of [...flows.keys()]) flows.delete(k);
    for (let i = 0; i < 40; i++)
      flows.set(
        { src: 0xc6120000 + i, dst: "198.19.0.1", port: 1000 + i, proto: 17 },
        { packets: BigInt(i), bytes: 0n, lastLen: i, udp: true },
      );
    const byKey = new Map<string, unknown>();
    for (const k of flows.keys()) byKey.set(JSON.stringify(k), flows.get(k));
    expect(byKey.size).toBe(40);
    // batchSize 0 forces the key-by-key path (kernels or map types without batch ops).
    for (const size of [0, 1, 3, 64]) {
      const batched = [...flows.entries({ batchSize: size })];
      expect(batched).toHaveLength(40);
      for (const e of batched) expect(byKey.get(JSON.stringify(e.key))).toEqual(e.value);
    }
    const hits = open("ruleHits");
    for (let i = 0; i < 8; i++) hits.set(i, i * 11);
    expect([...hits.entries({ batchSize: 3 })].map((e) => [e.key, e.value])).toEqual(
      Array.from({ length: 8 }, (_, i) => [i, i * 11]),
    );
    for (const k of [...flows.keys()]) flows.delete(k);
    // Hashes and (per-CPU) arrays went through BPF_MAP_LOOKUP_BATCH, not the fallback.
    for (const t of [1, 2, 6]) expect(batchlessMapTypes()).not.toContain(t);
  });

  it("reads the same maps from the kernel's BTF by program id", () => {
    const info = readObject(bytes);
    const pm = programMaps(progIdOf(prog));
    try {
      expect(pm.maps.map((m) => m.name).sort()).toEqual(info.maps.map((m) => m.name).sort());
      const flows = findMap(pm.maps, "flows")!;
      expect(flows.key.type).toMatchObject({ kind: "struct", name: "Flow" });
      const trie = findMap(pm.maps, "blocked")!;
      expect(new Set(trie.keys())).toEqual(new Set(["198.18.0.0/15"]));
    } finally {
      pm.close();
    }
  });
});

import { progInfo } from "../../native/info.ts";
function progIdOf(fd: number): number {
  return progInfo(fd).id;
}

describeKernel("TypedMap on filters/lpm_firewall.ts", () => {
  let bytes: Uint8Array;
  let obj: XdpObject;
  beforeAll(() => {
    bytes = build("filters/lpm_firewall.ts");
    obj = loadXdpObject(bytes);
  });
  afterAll(() => obj?.close());

  it("IPv6 CIDR keys and per-CPU struct values summed per rule", () => {
    const prog = obj.programFd();
    const b4 = TypedMap.fromObject(obj.object, bytes, "blocklist4");
    const b6 = TypedMap.fromObject(obj.object, bytes, "blocklist6");
    const stats = TypedMap.fromObject(obj.object, bytes, "ruleStats");
    expect(b6.key.cidr).toEqual({ field: "addr", bits: 128 });
    b4.set("198.18.7.0/24", 7);
    b6.set("2001:db8::/32", 9);
    expect([...b6.keys()]).toEqual(["2001:db8::/32"]);
    const v6 = udp6({}, { src: "2001:db8::5", dst: "2001:db8::6" });
    const pk4 = tcp4({}, { src: "198.18.7.1" });
    expect(testRun(prog, pk4).retval).toBe(1);
    expect(testRun(prog, pk4).retval).toBe(1);
    expect(testRun(prog, v6).retval).toBe(1);
    expect(testRun(prog, tcp4({}, { src: "198.18.8.1" })).retval).toBe(2);
    expect(stats.get(7)).toEqual({ packets: 2n, bytes: BigInt(2 * pk4.length) });
    expect(stats.get(9)).toEqual({ packets: 1n, bytes: BigInt(v6.length) });
    expect(stats.getPerCpu(7)).toHaveLength(possibleCpus());
  });
});
