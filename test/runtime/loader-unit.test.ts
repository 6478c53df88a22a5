// The loader's logic against a fake native layer: no kernel, no privileges, no bpffs.
// The fake (below) stands in for libbpf and the XDP netlink calls with a tiny model
// of the kernel — program and map ids, fds, one XDP slot per mode and interface, the
// attach flags' rules (UPDATE_IF_NOEXIST, REPLACE + old fd) — so these tests check what
// the loader asks of it, and what it leaves on disk, in every branch the kernel tests
// can only reach with hardware or races: a driver without native XDP, EPERM, ENODEV,
// EBUSY, a program swapped under the loader, a verifier rejection during a replace.
// Pins and state go to temp dirs (pinRoot / XDPC_RUN_DIR).
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The fake kernel's state, shared by the mocked modules and the tests. */
const k = vi.hoisted(() => {
  const s = {
    nextId: 100,
    nextFd: 40,
    /** Open fds → the id of the program or map they refer to. */
    fds: new Map<number, number>(),
    progs: new Map<number, string>(),
    /** ifindex → program id per mode (0: none). */
    slots: new Map<number, { drv: number; skb: number }>(),
    attaches: [] as { ifindex: number; progId: number; flags: number; oldProgId?: number }[],
    detaches: [] as { ifindex: number; flags: number; oldProgId?: number }[],
    opened: 0,
    /** Driver without native XDP: DRV-mode attaches fail with EOPNOTSUPP. */
    noNative: false,
    /** errno the next attach fails with (0: none). */
    attachErrno: 0,
    /** A verifier log: the object's load fails with it (after libbpf pinned its maps). */
    verifierLog: "",
    /** errno the object's load fails with, without a verifier log (0: none). */
    loadErrno: 0,
    lockBusy: false,
    missingCaps: [] as string[],
    bpffs: { mounted: false } as { mounted: boolean; error?: string },
    rodata: undefined as Uint8Array | undefined,
    reset() {
      s.fds.clear();
      s.progs.clear();
      s.slots.clear();
      s.attaches.length = 0;
      s.detaches.length = 0;
      s.opened = 0;
      s.noNative = false;
      s.attachErrno = 0;
      s.verifierLog = "";
      s.loadErrno = 0;
      s.lockBusy = false;
      s.missingCaps = [];
      s.bpffs = { mounted: false };
      s.rodata = undefined;
    },
    fd(id: number): number {
      const fd = s.nextFd++;
      s.fds.set(fd, id);
      return fd;
    },
    slot(ifindex: number) {
      let x = s.slots.get(ifindex);
      if (!x) s.slots.set(ifindex, (x = { drv: 0, skb: 0 }));
      return x;
    },
  };
  return s;
});

const IFINDEX = 7;
const IFACE = "fake0";

vi.mock("../../native/ifname.ts", () => ({
  ifNameToIndex: (name: string) => (name === IFACE ? IFINDEX : 0),
  ifIndexToName: (i: number) => (i === IFINDEX ? IFACE : undefined),
  errno: () => 0,
}));

vi.mock("../../native/bpf.ts", () => ({
  closeFd: (fd: number) => {
    if (fd >= 0 && !k.fds.delete(fd)) throw new Error(`fake: close of unknown fd ${fd}`);
  },
}));

vi.mock("../../native/info.ts", async () => {
  const { NativeError } =
    await vi.importActual<typeof import("../../native/lib.ts")>("../../native/lib.ts");
  const idOf = (fd: number) => {
    const id = k.fds.get(fd);
    if (id === undefined) throw new NativeError("bad fd", 9, "fake");
    return id;
  };
  return {
    progInfo: (fd: number) => {
      const id = idOf(fd);
      return { id, name: k.progs.get(id) ?? "", tag: "00".repeat(8), mapIds: [], type: 6 };
    },
    mapInfo: (fd: number) => ({ id: idOf(fd) }),
    progFdById: (id: number) => {
      if (!k.progs.has(id)) throw new NativeError("no such program", 2, "fake");
      return k.fd(id);
    },
    mapFdById: (id: number) => k.fd(id),
    // A pin is a plain file holding the id (the temp pin root is not bpffs).
    objPin: (fd: number, path: string) => {
      if (existsSync(path)) throw new NativeError("cannot pin", 17, "fake");
      writeFileSync(path, String(idOf(fd)));
    },
    objGet: (path: string) => {
      if (!existsSync(path)) throw new NativeError("cannot open pin", 2, "fake");
      return k.fd(Number(readFileSync(path, "utf8")));
    },
  };
});

vi.mock("../../native/object.ts", async () => {
  const actual =
    await vi.importActual<typeof import("../../native/object.ts")>("../../native/object.ts");
  const { readObject } = await vi.importActual<typeof import("../../compiler/elf/object.ts")>(
    "../../compiler/elf/object.ts",
  );
  return {
    LoadError: actual.LoadError,
    withCapture: <T>(fn: () => T) => ({ value: fn(), messages: [] as string[] }),
    openObject: (bytes: Uint8Array, opts: { pinRoot?: string }) => {
      const info = readObject(bytes);
      k.opened++;
      const progFds = new Map<string, number>();
      const mapFds = new Map<string, number>();
      let closed = false;
      return {
        setInitialValue(map: string, data: Uint8Array) {
          expect(map).toBe(".rodata");
          k.rodata = new Uint8Array(data);
        },
        load() {
          // libbpf creates and pins (or reuses) the maps before it loads any program.
          for (const m of info.maps) {
            const pin = m.pinning === 1 && opts.pinRoot ? join(opts.pinRoot, m.name) : undefined;
            const id = pin && existsSync(pin) ? Number(readFileSync(pin, "utf8")) : k.nextId++;
            mapFds.set(m.name, k.fd(id));
            if (pin && !existsSync(pin)) writeFileSync(pin, String(id));
          }
          const name = info.programs[0]!.name;
          if (k.loadErrno)
            throw new actual.LoadError("cannot load the object", k.loadErrno, "fake", {}, [
              "libbpf: failed to load object 'xdpc'",
            ]);
          if (k.verifierLog)
            throw new actual.LoadError(
              "cannot load the object",
              13,
              "fake",
              {
                [name]: k.verifierLog,
              },
              [],
            );
          for (const p of info.programs) {
            const id = k.nextId++;
            k.progs.set(id, p.name);
            progFds.set(p.name, k.fd(id));
          }
        },
        programFd: (name: string) => progFds.get(name)!,
        mapNames: () => info.maps.map((m) => m.name),
        map: (name: string) => {
          const m = info.maps.find((x) => x.name === name)!;
          return { ...m, fd: mapFds.get(name) ?? -1 };
        },
        close() {
          if (closed) return;
          closed = true;
          for (const fd of [...progFds.values(), ...mapFds.values()]) k.fds.delete(fd);
        },
      };
    },
  };
});

vi.mock("../../native/xdp.ts", async () => {
  const actual = await vi.importActual<typeof import("../../native/xdp.ts")>("../../native/xdp.ts");
  const { NativeError } =
    await vi.importActual<typeof import("../../native/lib.ts")>("../../native/lib.ts");
  const fail = (errno: number) => {
    throw new NativeError("cannot attach the XDP program", errno, "bpf_xdp_attach");
  };
  return {
    ...actual,
    xdpAttach(ifindex: number, progFd: number, flags: number, oldProgFd?: number) {
      const progId = k.fds.get(progFd)!;
      const oldProgId = oldProgFd === undefined ? undefined : k.fds.get(oldProgFd);
      k.attaches.push({
        ifindex,
        progId,
        flags,
        ...(oldProgFd !== undefined ? { oldProgId } : {}),
      });
      if (k.attachErrno) fail(k.attachErrno);
      const skb = (flags & actual.XDP_FLAGS_SKB_MODE) !== 0;
      if (!skb && k.noNative) fail(95); // EOPNOTSUPP
      const slot = k.slot(ifindex);
      const mode = skb ? "skb" : "drv";
      // The kernel's rules (dev_xdp_attach): one program per interface across modes,
      // REPLACE only when the old fd names the attached program.
      if (slot[skb ? "drv" : "skb"]) fail(16); // EBUSY
      if (oldProgFd !== undefined) {
        if (slot[mode] !== oldProgId) fail(17); // EEXIST
      } else if (flags & actual.XDP_FLAGS_UPDATE_IF_NOEXIST && slot[mode]) fail(16);
      slot[mode] = progId;
    },
    xdpDetach(ifindex: number, flags: number, oldProgFd?: number) {
      const oldProgId = oldProgFd === undefined ? undefined : k.fds.get(oldProgFd);
      k.detaches.push({ ifindex, flags, oldProgId });
      const slot = k.slot(ifindex);
      slot[flags & actual.XDP_FLAGS_SKB_MODE ? "skb" : "drv"] = 0;
    },
    xdpQuery(ifindex: number) {
      const slot = k.slot(ifindex);
      return {
        progId: slot.drv || slot.skb,
        drvProgId: slot.drv,
        skbProgId: slot.skb,
        hwProgId: 0,
        attachMode: slot.drv ? 1 : slot.skb ? 2 : 0,
      };
    },
  };
});
vi.mock("../../native/flock.ts", () => ({
  flockExclusive: () => !k.lockBusy,
  funlock: () => {},
}));

vi.mock("../../runtime/sys/netdev.ts", async () => ({
  ...(await vi.importActual<typeof import("../../runtime/sys/netdev.ts")>(
    "../../runtime/sys/netdev.ts",
  )),
  missingCaps: () => k.missingCaps,
}));

vi.mock("../../runtime/sys/bpffs.ts", () => ({ ensureBpffs: () => k.bpffs }));

const { loadFilter, unloadFilter, LoaderError } = await import("../../runtime/load/loader.ts");
const { filterInput } = await import("../../runtime/cli/filter.ts");
const { netnsInode } = await import("../../runtime/sys/netdev.ts");
const { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST } =
  await import("../../native/xdp.ts");

const GUARD = `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, HashMap, param, u16, u32, u64 } from "xdpc";
const port = param<u16>("port", 53);
const seen = new HashMap<u32, u64>({ maxEntries: 16, pinned: true });
export function guard(ctx: XdpContext): XdpAction {
  if (seen.lookup(ctx.len) !== null) return XDP_DROP;
  const u = ctx.udp();
  if (u !== null && u.dstPort === port) return XDP_DROP;
  return XDP_PASS;
}
`;
const DROP = `import { XdpContext, XdpAction, XDP_DROP } from "xdpc";
export function drop_all(ctx: XdpContext): XdpAction {
  return XDP_DROP;
}
`;
const LOG = [
  "func#0 @0",
  "0: R1=ctx(off=0,imm=0) R10=fp0",
  "0: (61) r2 = *(u32 *)(r1 +0)",
  "1: (71) r0 = *(u8 *)(r2 +12)",
  "invalid access to packet, off=12 size=1, R2(id=0,off=12,r=0)",
  "R2 offset is outside of the packet",
  "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0",
].join("\n");

const dir = mkdtempSync(join(tmpdir(), "xdpct-unit-"));
const guardTs = join(dir, "guard.ts");
const dropTs = join(dir, "drop.ts");
writeFileSync(guardTs, GUARD);
writeFileSync(dropTs, DROP);
let pinRoot = "";
let runDir = "";
const savedRunDir = process.env.XDPC_RUN_DIR;

/** Every file under `root`, relative, with its contents: a snapshot to compare. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[p.slice(root.length) + "/"] = "";
        walk(p);
      } else out[p.slice(root.length)] = readFileSync(p).toString("base64");
    }
  };
  walk(root);
  return out;
}
const disk = () => ({ pins: tree(pinRoot), run: tree(runDir) });
const load = (input: string, more: Partial<Parameters<typeof loadFilter>[0]> = {}) =>
  loadFilter({ iface: IFACE, input: filterInput(input), pinRoot, ...more });
/** The LoaderError `fn` throws. */
function failure(fn: () => unknown): InstanceType<typeof LoaderError> {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LoaderError);
    const err = e as InstanceType<typeof LoaderError>;
    expect(err.message).not.toContain("\n");
    return err;
  }
  throw new Error("expected a LoaderError");
}

beforeEach(() => {
  k.reset();
  const base = mkdtempSync(join(dir, "case-"));
  pinRoot = join(base, "bpf", "xdpc");
  runDir = join(base, "run");
  mkdirSync(join(base, "bpf"));
  process.env.XDPC_RUN_DIR = runDir;
});
afterEach(() => {
  // No fd the loader opened may outlive the call (success or failure).
  expect([...k.fds.keys()]).toEqual([]);
});
afterAll(() => {
  if (savedRunDir === undefined) delete process.env.XDPC_RUN_DIR;
  else process.env.XDPC_RUN_DIR = savedRunDir;
  rmSync(dir, { recursive: true, force: true });
});

describe("loader (fake FFI): first load", () => {
  it("attaches in native mode with UPDATE_IF_NOEXIST and records what it loaded", () => {
    const t0 = Date.now();
    const r = load(guardTs, { params: { port: "5353" } });
    const t1 = Date.now();
    expect(k.attaches).toEqual([
      {
        ifindex: IFINDEX,
        progId: r.progId,
        flags: XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
      },
    ]);
    expect(k.slot(IFINDEX)).toEqual({ drv: r.progId, skb: 0 });
    expect(r.mode).toBe("native");
    expect(r.notices).toEqual([]);
    expect(r.replaced).toBeUndefined();
    // The parameter reached the object's .rodata before load: 5353 little-endian.
    expect([...k.rodata!.subarray(0, 2)]).toEqual([5353 & 0xff, 5353 >> 8]);

    const key = readdirSync(pinRoot)[0]!;
    expect(key === IFACE || key.startsWith(`${IFACE}@ns`)).toBe(true);
    const pinDir = join(pinRoot, key);
    const stateDir = join(runDir, "filters", key);
    const rec = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8"));
    expect(rec).toEqual(r.record);
    const seen = r.maps.find((m) => m.name === "seen")!;
    expect(rec).toMatchObject({
      version: 1,
      iface: IFACE,
      ifindex: IFINDEX,
      netns: netnsInode(),
      key,
      progId: r.progId,
      progName: "guard",
      mode: "native",
      source: guardTs,
      object: join(stateDir, `filter-${r.progId}.o`),
      pinDir,
      progPin: join(pinDir, "prog"),
      params: { port: "5353" },
    });
    // Stamped during the load (ISO text with milliseconds).
    expect(Date.parse(rec.loadedAt)).toBeGreaterThanOrEqual(t0);
    expect(Date.parse(rec.loadedAt)).toBeLessThanOrEqual(t1);
    expect(seen).toMatchObject({ keySize: 4, valueSize: 8, maxEntries: 16 });
    expect(seen.pinned).toBe(join(pinDir, "maps", "seen"));
    // The hidden verdict counter of a .ts input is there, unpinned.
    expect(r.maps.find((m) => m.name === "xdpc_verdicts")?.pinned).toBeUndefined();
    // The object copy is what was loaded; the program pin names the attached id.
    expect(readFileSync(rec.object).subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    expect(readFileSync(join(pinDir, "prog"), "utf8")).toBe(String(r.progId));
    expect(readFileSync(seen.pinned!, "utf8")).toBe(String(seen.id));
    // Nothing of a load in flight is left.
    expect(readdirSync(pinDir).sort()).toEqual(["maps", "prog"]);
    expect(readdirSync(stateDir).sort()).toEqual([`filter-${r.progId}.o`, "state.json"]);
  });

  it("falls back from native to generic mode with a notice when the driver says EOPNOTSUPP", () => {
    k.noNative = true;
    const r = load(dropTs);
    expect(k.attaches.map((a) => a.flags)).toEqual([
      XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
      XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
    ]);
    expect(r.mode).toBe("generic");
    expect(r.notices).toEqual([
      `'${IFACE}' has no native XDP support; attached in generic (skb) mode`,
    ]);
    expect(k.slot(IFINDEX)).toEqual({ drv: 0, skb: r.progId });
    expect(r.record.mode).toBe("generic");
    const key = readdirSync(pinRoot)[0]!;
    expect(JSON.parse(readFileSync(join(runDir, "filters", key, "state.json"), "utf8")).mode).toBe(
      "generic",
    );
  });

  it("does not fall back when native mode was asked for, and leaves nothing behind", () => {
    k.noNative = true;
    const e = failure(() => load(dropTs, { mode: "native" }));
    expect(e.message).toBe(
      `'${IFACE}' does not support XDP in native mode (its driver has no native XDP); use --mode generic`,
    );
    expect(k.attaches).toHaveLength(1);
    expect(k.slot(IFINDEX)).toEqual({ drv: 0, skb: 0 });
    expect(existsSync(pinRoot)).toBe(false);
    expect(files(runDir)).toEqual([`/locks/${lockName()}`]);
  });

  it("mounts bpffs when missing (a notice) and stops on a pin root that is not bpffs", () => {
    k.bpffs = { mounted: true };
    expect(load(dropTs).notices).toContain("mounted bpffs at /sys/fs/bpf");
    unloadFilter(IFACE, { pinRoot });
    k.bpffs = { mounted: false, error: "pin root '/tmp/x' is not on a BPF filesystem" };
    expect(failure(() => load(dropTs)).message).toBe(k.bpffs.error);
    expect(k.opened).toBe(1);
  });
});

describe("loader (fake FFI): replace", () => {
  it("swaps with the old program's fd (REPLACE), never detaching, and keeps pinned maps", () => {
    const first = load(guardTs);
    const seenId = first.maps.find((m) => m.name === "seen")!.id;
    const second = load(guardTs, { params: { port: "99" } });
    expect(k.attaches).toHaveLength(2);
    expect(k.attaches[1]).toEqual({
      ifindex: IFINDEX,
      progId: second.progId,
      // No UPDATE_IF_NOEXIST: the swap names the program it replaces instead.
      flags: XDP_FLAGS_DRV_MODE,
      oldProgId: first.progId,
    });
    expect(k.detaches).toEqual([]);
    expect(second.replaced).toBe(first.progId);
    expect(second.notices).toEqual([
      `replaced program id ${first.progId} on '${IFACE}' (native mode)`,
    ]);
    expect(k.slot(IFINDEX).drv).toBe(second.progId);
    // The pinned map was reused, not recreated.
    expect(second.maps.find((m) => m.name === "seen")!.id).toBe(seenId);
    const key = readdirSync(pinRoot)[0]!;
    const stateDir = join(runDir, "filters", key);
    // The old program's object copy is gone; the record and pin name the new program.
    expect(readdirSync(stateDir).sort()).toEqual([`filter-${second.progId}.o`, "state.json"]);
    expect(readFileSync(join(pinRoot, key, "prog"), "utf8")).toBe(String(second.progId));
    expect(JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")).params).toEqual({
      port: "99",
    });
  });

  it("keeps the mode of the running program and refuses a mode switch", () => {
    k.noNative = true;
    const first = load(dropTs);
    expect(first.mode).toBe("generic");
    const second = load(dropTs);
    expect(second.mode).toBe("generic");
    expect(k.attaches[2]).toMatchObject({ flags: XDP_FLAGS_SKB_MODE, oldProgId: first.progId });
    const before = disk();
    const e = failure(() => load(dropTs, { mode: "native" }));
    expect(e.message).toMatch(/runs its XDP program in generic mode .* cannot be atomic/);
    expect(disk()).toEqual(before);
  });

  it("a verifier rejection leaves the old program attached, its files intact and no new pins", () => {
    const first = load(dropTs);
    const before = disk();
    const opened = k.opened;
    k.verifierLog = LOG;
    // guard.ts pins a map the first program did not have: libbpf pins it, then the
    // verifier rejects the program, and the loader must take the new pin away again.
    const e = failure(() => load(guardTs));
    expect(k.opened).toBe(opened + 1);
    expect(e.kind).toBe("verifier");
    expect(e.message).toBe("the kernel verifier rejected 'guard'; nothing was changed");
    expect(e.diagnostics).toHaveLength(1);
    expect(e.diagnostics[0]!.message).toContain("invalid access to packet");
    expect(k.attaches).toHaveLength(1);
    expect(k.slot(IFINDEX).drv).toBe(first.progId);
    expect(disk()).toEqual(before);
  });

  it("a bad --set stops before anything is opened, attached or written", () => {
    const first = load(guardTs);
    const before = disk();
    const opened = k.opened;
    const unknown = failure(() => load(guardTs, { params: { prot: "53" } }));
    expect(unknown.kind).toBe("usage");
    expect(unknown.message).toMatch(/prot/);
    const range = failure(() => load(guardTs, { params: { port: "70000" } }));
    expect(range.kind).toBe("usage");
    expect(range.message).toMatch(/port/);
    expect(k.opened).toBe(opened);
    expect(k.attaches).toHaveLength(1);
    expect(k.slot(IFINDEX).drv).toBe(first.progId);
    expect(disk()).toEqual(before);
  });

  it("a program swapped in by another tool mid-load (EEXIST) is left running, with a clear message", () => {
    const first = load(dropTs);
    const before = disk();
    k.attachErrno = 17;
    const e = failure(() => load(dropTs));
    expect(e.message).toBe(
      `the XDP program on '${IFACE}' changed during the load (another tool attached one); nothing was replaced`,
    );
    expect(k.slot(IFINDEX).drv).toBe(first.progId);
    expect(disk()).toEqual(before);
  });

  it("refuses to replace a program xdpc did not load unless forced", () => {
    k.progs.set(7777, "foreign");
    k.slot(IFINDEX).drv = 7777;
    const e = failure(() => load(dropTs));
    expect(e.message).toBe(
      `'${IFACE}' runs XDP program id 7777 that xdpc did not load; \`xdpc unload --iface ${IFACE}\` removes it, or pass --force to replace it`,
    );
    expect(k.attaches).toEqual([]);
    const r = load(dropTs, { force: true });
    expect(r.replaced).toBe(7777);
    expect(k.attaches[0]!.oldProgId).toBe(7777);
  });
});

describe("loader (fake FFI): errors are one line, and leave nothing behind", () => {
  const cases: [string, number, RegExp][] = [
    ["ENODEV", 19, /^no such interface 'fake0'$/],
    ["EPERM", 1, /^permission denied: .*CAP_NET_ADMIN.*CAP_BPF/],
    ["EBUSY", 16, /^'fake0' already runs an XDP program in another mode; unload it first$/],
    ["EEXIST", 17, /^the XDP program on 'fake0' changed during the load/],
    ["EINVAL", 22, /^cannot attach the XDP program: invalid argument \[EINVAL\] on 'fake0'$/],
  ];
  for (const [name, errno, message] of cases) {
    it(`${name} from the attach`, () => {
      k.attachErrno = errno;
      const e = failure(() => load(guardTs));
      expect(e.message).toMatch(message);
      expect(e.kind).toBe("failed");
      expect(existsSync(pinRoot)).toBe(false);
      expect(files(runDir)).toEqual([`/locks/${lockName()}`]);
    });
  }

  it("EPERM from the program load names CAP_BPF, and takes back the map pins it made", () => {
    k.loadErrno = 1;
    const e = failure(() => load(guardTs));
    expect(e.message).toBe(
      "permission denied: loading BPF programs needs CAP_BPF (or CAP_SYS_ADMIN)",
    );
    expect(k.attaches).toEqual([]);
    expect(existsSync(pinRoot)).toBe(false);
    expect(files(runDir)).toEqual([`/locks/${lockName()}`]);
  });

  it("an unknown interface is refused before anything else", () => {
    const e = failure(() => loadFilter({ iface: "nosuch9", input: filterInput(guardTs), pinRoot }));
    expect(e.message).toBe("no such interface 'nosuch9'");
    expect(k.opened).toBe(0);
    expect(existsSync(runDir)).toBe(false);
  });

  it("missing capabilities are named before anything is loaded", () => {
    k.missingCaps = ["CAP_BPF", "CAP_NET_ADMIN"];
    const e = failure(() => load(guardTs));
    expect(e.message).toBe(
      "loading an XDP program needs CAP_BPF and CAP_NET_ADMIN (run as root, or grant CAP_BPF, CAP_NET_ADMIN)",
    );
    expect(k.opened).toBe(0);
    expect(failure(() => unloadFilter(IFACE, { pinRoot })).message).toMatch(
      /^unloading an XDP program needs CAP_BPF and CAP_NET_ADMIN/,
    );
  });

  it("a load racing another one is refused (the lock), naming the holder's pid", () => {
    const first = load(dropTs);
    const before = disk();
    writeFileSync(join(runDir, "locks", lockName()), "4242\n");
    k.lockBusy = true;
    const e = failure(() => load(guardTs));
    expect(e.message).toBe(
      `another xdpc load or unload is running on '${IFACE}' (pid 4242); try again when it has finished`,
    );
    expect(k.opened).toBe(1);
    expect(k.slot(IFINDEX).drv).toBe(first.progId);
    expect(disk().pins).toEqual(before.pins);
    expect(failure(() => unloadFilter(IFACE, { pinRoot })).message).toMatch(/another xdpc load/);
    expect(k.detaches).toEqual([]);
  });
});

describe("loader (fake FFI): unload", () => {
  it("detaches the recorded program by fd and removes its pins and record", () => {
    const r = load(guardTs);
    const u = unloadFilter(IFACE, { pinRoot });
    expect(k.detaches).toEqual([
      { ifindex: IFINDEX, flags: XDP_FLAGS_DRV_MODE, oldProgId: r.progId },
    ]);
    expect(u.detached).toEqual([{ progId: r.progId, mode: "native", managed: true }]);
    expect(k.slot(IFINDEX)).toEqual({ drv: 0, skb: 0 });
    expect(existsSync(pinRoot)).toBe(false);
    expect(existsSync(join(runDir, "filters"))).toBe(true);
    expect(readdirSync(join(runDir, "filters"))).toEqual([]);
    expect(failure(() => unloadFilter(IFACE, { pinRoot })).message).toBe(
      `no XDP program is attached to '${IFACE}'`,
    );
  });
});

/** The lock file's name (the interface key) and the pid the loader wrote into it. */
function lockName(): string {
  return readdirSync(join(runDir, "locks"))[0]!;
}
/** The files (not directories) under `root`: an empty directory is no leftover state. */
function files(root: string): string[] {
  return Object.keys(tree(root)).filter((f) => !f.endsWith("/"));
}
