// Objects built by buildObject, judged by the kernel: libbpf open/load (the
// verifier), BPF_PROG_TEST_RUN, map reads, bpftool's loader and its line-info dump.
import { afterEach, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { buildObject } from "../../compiler/elf/object.ts";
import { testRun } from "../../native/bpf.ts";
import { BPF_MAP_TYPE, type MapSpec } from "../../compiler/elf/object.ts";
import type { TypeDesc } from "../../compiler/elf/types.ts";
import {
  LoadError,
  possibleCpus,
  mapLookup,
  mapNextKey,
  mapUpdate,
  mapDelete,
  openObject,
  type LoadedObject,
} from "../../native/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { checkFdLeaks } from "../support/xdp.ts";
import {
  callSpec,
  counterSpec,
  encode,
  exit,
  flowKey,
  lddw,
  ldxH,
  paramSpec,
  stats,
} from "./programs.ts";
import { clangBpf, run, withTemp, writeTemp } from "./tools.ts";
import { CLANG_MULTI } from "./clang-sources.ts";

const packet = new Uint8Array(64).fill(0xab);
let open: LoadedObject[] = [];
/** Fails a test that leaves BPF descriptors open; objects are closed first (hooks run as a stack). */
function closeAfterEach(): void {
  checkFdLeaks("each");
  afterEach(() => {
    for (const o of open) o.close();
    open = [];
  });
}
function load(bytes: Uint8Array, opts: Parameters<typeof openObject>[1] = {}): LoadedObject {
  const o = openObject(bytes, { name: "xdpc_test", ...opts });
  open.push(o);
  o.load();
  // libbpf silently drops BTF the kernel refuses ("BTF is optional"); ours must be accepted.
  expect(o.messages.join("\n")).not.toMatch(/BTF/);
  expect(o.btfLog()).toBe("");
  return o;
}

function bpffs(): void {
  if (!execFileSync("mount", { encoding: "utf8" }).includes(" /sys/fs/bpf type bpf")) {
    execFileSync("mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  }
}

const lpmKey: TypeDesc = {
  kind: "struct",
  name: "Ipv4Prefix",
  size: 8,
  members: [
    { name: "prefixlen", type: { kind: "int", bits: 32, signed: false }, offset: 0 },
    { name: "addr", type: { kind: "int", bits: 32, signed: false }, offset: 4 },
  ],
};

const u64At = (b: Uint8Array, off = 0) =>
  new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);

describeKernel("objects loaded through libbpf", () => {
  closeAfterEach();
  it("counts packets in an ARRAY map and returns XDP_PASS", () => {
    const o = load(buildObject(counterSpec()));
    const fd = o.programFd("count");
    for (let i = 0; i < 3; i++) expect(testRun(fd, packet).retval).toBe(2);
    expect(testRun(fd, packet, { repeat: 10 }).retval).toBe(2);
    const m = o.map("counters");
    expect(m).toMatchObject({ type: 2, keySize: 4, valueSize: 8, maxEntries: 4 });
    expect(u64At(mapLookup(m.fd, new Uint8Array(4), 8)!)).toBe(13n);
    expect(u64At(mapLookup(m.fd, Uint8Array.of(1, 0, 0, 0), 8)!)).toBe(0n);
  });

  it("the kernel creates every map kind the language has, with our BTF", () => {
    const spec = counterSpec();
    const u32d = { kind: "int", bits: 32, signed: false } as const;
    const maps: MapSpec[] = [
      {
        name: "counters",
        type: BPF_MAP_TYPE.ARRAY,
        key: u32d,
        value: { kind: "int", bits: 64, signed: false },
        maxEntries: 4,
      },
      { name: "percpu", type: BPF_MAP_TYPE.PERCPU_ARRAY, key: u32d, value: stats, maxEntries: 4 },
      { name: "flows", type: BPF_MAP_TYPE.HASH, key: flowKey, value: stats, maxEntries: 64 },
      {
        name: "pcpu_hash",
        type: BPF_MAP_TYPE.PERCPU_HASH,
        key: u32d,
        value: stats,
        maxEntries: 64,
      },
      { name: "lru", type: BPF_MAP_TYPE.LRU_HASH, key: flowKey, value: u32d, maxEntries: 64 },
      {
        name: "lru_pcpu",
        type: BPF_MAP_TYPE.LRU_PERCPU_HASH,
        key: flowKey,
        value: u32d,
        maxEntries: 64,
      },
      {
        name: "blocked",
        type: BPF_MAP_TYPE.LPM_TRIE,
        key: lpmKey,
        value: u32d,
        maxEntries: 64,
        flags: 1 /* BPF_F_NO_PREALLOC */,
      },
      { name: "devs", type: BPF_MAP_TYPE.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 8 },
      { name: "cpus", type: BPF_MAP_TYPE.CPUMAP, keySize: 4, valueSize: 4, maxEntries: 4 },
      { name: "sockets", type: BPF_MAP_TYPE.XSKMAP, keySize: 4, valueSize: 4, maxEntries: 4 },
      { name: "events", type: BPF_MAP_TYPE.RINGBUF, maxEntries: 4096 },
    ];
    spec.maps = maps;
    const o = openObject(buildObject(spec), { name: "xdpc_maps" });
    open.push(o);
    o.load();
    expect(o.messages.filter((m) => /Retrying without BTF/.test(m))).toEqual([]);
    for (const m of maps) {
      const info = o.map(m.name);
      expect(info.fd).toBeGreaterThanOrEqual(0);
      expect(info.type).toBe(m.type);
    }
    expect(o.map("flows")).toMatchObject({ keySize: 32, valueSize: 16 });
    // A per-CPU lookup returns one 8-byte-aligned slot per possible CPU.
    const v = mapLookup(o.mapFd("percpu"), new Uint8Array(4), 16 * possibleCpus());
    expect(v?.length).toBe(16 * possibleCpus());
  });

  it("map element operations by fd: update, lookup, iterate, delete", () => {
    const o = load(
      buildObject({
        ...counterSpec(),
        maps: [
          {
            name: "counters",
            type: 1 /* HASH */,
            key: { kind: "int", bits: 32, signed: false },
            value: { kind: "int", bits: 64, signed: false },
            maxEntries: 8,
          },
        ],
      }),
    );
    const fd = o.mapFd("counters");
    expect(mapNextKey(fd, null, 4)).toBeNull();
    const k = Uint8Array.of(5, 0, 0, 0);
    mapUpdate(fd, k, new Uint8Array(new BigUint64Array([99n]).buffer));
    expect(u64At(mapLookup(fd, k, 8)!)).toBe(99n);
    expect([...mapNextKey(fd, null, 4)!]).toEqual([...k]);
    expect(mapNextKey(fd, k, 4)).toBeNull();
    expect(mapDelete(fd, k)).toBe(true);
    expect(mapDelete(fd, k)).toBe(false);
    expect(mapLookup(fd, k, 8)).toBeNull();
    testRun(o.programFd("count"), packet); // the program's lookup misses on an empty hash and still passes
  });

  it("reads a .rodata parameter the loader can set before load; .bss is readable after", () => {
    const o1 = load(buildObject(paramSpec(2)));
    expect(testRun(o1.programFd("param"), packet).retval).toBe(2);

    const o2 = openObject(buildObject(paramSpec(2)), { name: "xdpc_param" });
    open.push(o2);
    const ro = o2.initialValue(".rodata");
    expect([...ro]).toEqual([7, 0, 2, 0]);
    ro[2] = 1; // verdict = XDP_DROP
    o2.setInitialValue(".rodata", ro);
    o2.load();
    const fd = o2.programFd("param");
    expect(testRun(fd, packet).retval).toBe(1);
    testRun(fd, packet);
    const bss = o2.map(".bss");
    expect(u64At(mapLookup(bss.fd, new Uint8Array(4), bss.valueSize)!)).toBe(2n);
    expect(() => o2.setInitialValue(".rodata", ro)).toThrow(/after load/);
  });

  it("loads section-relative data references (lddw imm = offset into .rodata)", () => {
    const spec = paramSpec(1);
    const prog = spec.programs[0]!;
    prog.insns = encode([lddw(1, 2), ldxH(0, 1, 0), exit()]);
    prog.relocations = [{ insnIndex: 0, symbol: ".rodata", kind: "data" }];
    prog.lineInfo = [{ insnIndex: 0, line: 1, col: 1, lineText: "return VERDICT;" }];
    const o = load(buildObject(spec));
    expect(testRun(o.programFd("param"), packet).retval).toBe(1);
  });

  it("runs a BPF-to-BPF call into a static .text subprogram", () => {
    const o = load(buildObject(callSpec()));
    expect(o.programNames()).toEqual(["caller"]); // libbpf lists entry programs, not subprograms
    expect(testRun(o.programFd("caller"), packet).retval).toBe(2);
  });

  it("shows our .ts source lines in the verifier log", () => {
    const o = load(buildObject(counterSpec()), { logLevel: 2 });
    const log = o.programLog("count");
    expect(log).toContain("; counters.increment(0); @ count.ts:2");
    expect(log).toContain("; return XDP_PASS; @ count.ts:3");
  });

  it("reports a verifier rejection with the log and the source line", () => {
    const spec = counterSpec();
    spec.programs[0]!.insns = encode([exit()]);
    spec.programs[0]!.relocations = [];
    spec.programs[0]!.lineInfo = [{ insnIndex: 0, line: 9, col: 1, lineText: "  return verdict;" }];
    const o = openObject(buildObject(spec), { name: "xdpc_bad" });
    open.push(o);
    let err: unknown;
    try {
      o.load();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoadError);
    const le = err as LoadError;
    expect(le.code).toBe("EACCES");
    expect(le.logs.count).toContain("R0 !read_ok");
    expect(le.log).toContain("; return verdict; @ count.ts:9");
  });

  it("makes BTF the kernel refuses visible (libbpf would otherwise drop it silently)", () => {
    const s = counterSpec();
    s.maps![0]!.value = {
      kind: "struct",
      name: "bad name",
      size: 8,
      members: [{ name: "x y", type: { kind: "int", bits: 64, signed: false }, offset: 0 }],
    };
    const o = openObject(buildObject(s), { name: "xdpc_badbtf" });
    open.push(o);
    o.load();
    expect(o.messages.join("\n")).toMatch(/Error loading .BTF into kernel/);
    expect(o.btfLog()).toMatch(/^magic: 0xeb9f/);
  });

  it("reports an object libbpf cannot open with libbpf's reason", () => {
    const bytes = buildObject(counterSpec());
    expect(() => openObject(bytes.subarray(0, 100))).toThrow(
      /cannot open BPF object:\nlibbpf: elf: /,
    );
    const s = counterSpec();
    s.maps![0]!.maxEntries = 0; // the kernel refuses to create the map
    const o = openObject(buildObject(s));
    open.push(o);
    expect(() => o.load()).toThrow(/map 'counters': failed to create/);
  });

  it("loads clang's object too (same loader path as ours)", () => {
    // pinned_map is LIBBPF_PIN_BY_NAME: pin it under a private directory on bpffs, then remove it.
    bpffs();
    const pinRoot = `/sys/fs/bpf/xdpc_elf_test_${process.pid}`;
    mkdirSync(pinRoot, { recursive: true });
    try {
      withTemp((dir) => {
        const o = load(clangBpf(dir, "multi", CLANG_MULTI), { pinRoot });
        expect(testRun(o.programFd("count"), packet).retval).toBe(2);
        expect(u64At(mapLookup(o.mapFd("counters"), new Uint8Array(4), 8)!)).toBe(1n);
        expect(existsSync(`${pinRoot}/pinned_map`)).toBe(true);
      });
    } finally {
      rmSync(pinRoot, { recursive: true, force: true });
    }
  });
});

describeKernel("objects loaded by bpftool", () => {
  checkFdLeaks("each");
  const pins: string[] = [];
  afterEach(() => {
    for (const p of pins.splice(0)) rmSync(p, { force: true });
  });

  it("bpftool prog load accepts each object and dumps our source lines", () => {
    bpffs();
    withTemp((dir) => {
      for (const [name, spec, lines] of [
        [
          "count",
          counterSpec(),
          ["; counters.increment(0); [file:filters/count.ts line_num:2 line_col:3]"],
        ],
        ["param", paramSpec(), ["; return VERDICT; [file:filters/param.ts line_num:4 line_col:3]"]],
        [
          "call",
          callSpec(),
          [
            "int caller(struct xdp_md * ctx):",
            "u32 half(u32 x):",
            "; return x / 2; [file:filters/call.ts line_num:2 line_col:3]",
          ],
        ],
      ] as const) {
        const pin = `/sys/fs/bpf/xdpc_elf_test_${process.pid}_${name}`;
        pins.push(pin);
        run("bpftool", ["prog", "load", writeTemp(dir, `${name}.o`, buildObject(spec)), pin]);
        expect(existsSync(pin)).toBe(true);
        const dump = run("bpftool", ["prog", "dump", "xlated", "pinned", pin, "linum"]);
        for (const l of lines) expect(dump).toContain(l);
      }
    });
  });
});
