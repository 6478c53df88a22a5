// libxdp 1.3's program and multi-program (dispatcher) API: open an object as libxdp
// sees it (run priority and chain-call actions from its `.xdp_run_config` BTF), attach
// it through the dispatcher beside other programs, and list the dispatcher's programs.
// libxdp's own log (and libbpf's, which it routes through us while capturing) is kept
// and attached to errors instead of going to stderr.
import { koffi, library, NativeError } from "./lib.ts";
import { withCapture } from "./object.ts";
import { sys } from "./sys.ts";

type Ptr = unknown;

export const XDP_MODE_UNSPEC = 0;
export const XDP_MODE_NATIVE = 1;
export const XDP_MODE_SKB = 2;
export const XDP_MODE_HW = 3;

interface Api {
  openFile: (path: string, prog: string | null) => Ptr;
  fromId: (id: number) => Ptr;
  getError: (p: Ptr) => number;
  close: (p: Ptr) => void;
  name: (p: Ptr) => string;
  id: (p: Ptr) => number;
  runPrio: (p: Ptr) => number;
  chainCallEnabled: (p: Ptr, action: number) => boolean;
  attach: (p: Ptr, ifindex: number, mode: number, flags: number) => number;
  detach: (p: Ptr, ifindex: number, mode: number, flags: number) => number;
  mpFromIfindex: (ifindex: number) => Ptr;
  mpNext: (prev: Ptr, mp: Ptr) => Ptr;
  mpClose: (mp: Ptr) => void;
  mpMode: (mp: Ptr) => number;
  mpMain: (mp: Ptr) => Ptr;
  mpLegacy: (mp: Ptr) => boolean;
}

let api: Api | undefined;
let captured: string[] | undefined;

function bind(): Api {
  if (api) return api;
  const k = koffi();
  const xdp = library("libxdp.so.1");
  const libc = library("libc.so.6");
  k.opaque("xdp_program");
  k.opaque("xdp_multiprog");
  const Opts = k.struct("xdpc_xdp_program_opts", {
    sz: "size_t",
    obj: "void *",
    opts: "void *",
    prog_name: "const char *",
    find_filename: "const char *",
    open_filename: "const char *",
    pin_path: "const char *",
    id: "uint32_t",
    fd: "int",
  });
  const create = xdp.func("xdp_program *xdp_program__create(const xdpc_xdp_program_opts *opts)");
  const vsnprintf = libc.func(
    "int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)",
  );
  const PrintFn = k.proto("int xdpc_libxdp_print_fn(int level, const char *fmt, void *ap)");
  const setPrint = xdp.func("void *libxdp_set_print(xdpc_libxdp_print_fn *fn)");
  const buf = Buffer.alloc(4096);
  const cb = k.register((level: number, fmt: string, ap: unknown) => {
    const n = vsnprintf(buf, buf.length, fmt, ap) as number;
    const msg = buf.toString("utf8", 0, Math.max(0, Math.min(n, buf.length - 1))).trimEnd();
    if (captured) captured.push(level === 2 ? `debug: ${msg}` : msg);
    return 0;
  }, k.pointer(PrintFn));
  setPrint(cb);
  api = {
    // xdp_program__open_file takes a section name; by program name (several XDP programs
    // share the section "xdp") only xdp_program__create opens one, and it does the same open.
    openFile: (path: string, prog: string | null) =>
      create({
        sz: k.sizeof(Opts),
        obj: null,
        opts: null,
        prog_name: prog,
        find_filename: null,
        open_filename: path,
        pin_path: null,
        id: 0,
        fd: 0,
      }),
    fromId: xdp.func("xdp_program *xdp_program__from_id(uint32_t id)"),
    getError: xdp.func("long libxdp_get_error(const void *ptr)"),
    close: xdp.func("void xdp_program__close(xdp_program *p)"),
    name: xdp.func("const char *xdp_program__name(const xdp_program *p)"),
    id: xdp.func("uint32_t xdp_program__id(const xdp_program *p)"),
    runPrio: xdp.func("unsigned int xdp_program__run_prio(const xdp_program *p)"),
    chainCallEnabled: xdp.func(
      "bool xdp_program__chain_call_enabled(const xdp_program *p, int action)",
    ),
    attach: xdp.func(
      "int xdp_program__attach(xdp_program *p, int ifindex, int mode, unsigned int flags)",
    ),
    detach: xdp.func(
      "int xdp_program__detach(xdp_program *p, int ifindex, int mode, unsigned int flags)",
    ),
    mpFromIfindex: xdp.func("xdp_multiprog *xdp_multiprog__get_from_ifindex(int ifindex)"),
    mpNext: xdp.func(
      "xdp_program *xdp_multiprog__next_prog(const xdp_program *prev, const xdp_multiprog *mp)",
    ),
    mpClose: xdp.func("void xdp_multiprog__close(xdp_multiprog *mp)"),
    mpMode: xdp.func("int xdp_multiprog__attach_mode(const xdp_multiprog *mp)"),
    mpMain: xdp.func("xdp_program *xdp_multiprog__main_prog(const xdp_multiprog *mp)"),
    mpLegacy: xdp.func("bool xdp_multiprog__is_legacy(const xdp_multiprog *mp)"),
  };
  return api;
}

/** Runs `f` with libxdp's and libbpf's messages collected; returns them with the result. */
function capturing<T>(f: (a: Api) => T): { value: T; log: string[] } {
  const a = bind();
  const outer = captured;
  captured = [];
  try {
    const { value, messages } = withCapture(() => f(a));
    return { value, log: [...captured, ...messages.map((m) => `libbpf: ${m}`)] };
  } finally {
    const log = captured;
    captured = outer;
    outer?.push(...log);
  }
}

/** The last warning lines of libxdp's log (debug lines left out), for an error's detail. */
function detailOf(log: string[]): string {
  return log
    .filter((l) => !l.startsWith("debug: "))
    .slice(-4)
    .join("\n");
}

/** A program as libxdp sees it: its name, dispatcher priority and chain-call actions. */
export interface LibxdpProgramInfo {
  name: string;
  /** Kernel id when loaded, 0 for an object opened from a file. */
  id: number;
  priority: number;
  /** XDP actions (0..4) after which the dispatcher runs the next program. */
  chainCallActions: number[];
}

function describe(a: Api, p: Ptr): LibxdpProgramInfo {
  const chainCallActions = [0, 1, 2, 3, 4].filter((act) => a.chainCallEnabled(p, act));
  return { name: a.name(p), id: a.id(p), priority: a.runPrio(p), chainCallActions };
}

/**
 * Opens an object file as xdp-loader does (libxdp's open, no load, no privileges) and reports
 * what libxdp read from it. `program` picks one of several XDP programs.
 */
export const libxdpOpenFile = sys(
  "libxdpOpenFile",
  (path: string, program?: string): LibxdpProgramInfo => {
    const { value, log } = capturing((a) => {
      const p = a.openFile(path, program ?? null);
      const err = Number(a.getError(p));
      if (err) return { err };
      try {
        return { info: describe(a, p) };
      } finally {
        a.close(p);
      }
    });
    if ("err" in value)
      throw new NativeError(
        `libxdp cannot open ${path}${program ? ` (program ${program})` : ""}`,
        -value.err!,
        "xdp_program__open_file",
        detailOf(log),
      );
    return value.info!;
  },
);

/** A handle on a program libxdp opened from a file, attached or not. */
export interface LibxdpProgram {
  readonly ptr: Ptr;
  info(): LibxdpProgramInfo;
  close(): void;
}

/** Opens an object file for attaching through the dispatcher (xdp_program__open_file). */
export const libxdpOpen = sys("libxdpOpen", (path: string, program?: string): LibxdpProgram => {
  const { value, log } = capturing((a) => {
    const p = a.openFile(path, program ?? null);
    return { p, err: Number(a.getError(p)) };
  });
  if (value.err)
    throw new NativeError(
      `libxdp cannot open ${path}`,
      -value.err,
      "xdp_program__open_file",
      detailOf(log),
    );
  const a = bind();
  let open = true;
  return {
    ptr: value.p,
    info: () => describe(a, value.p),
    close: () => {
      if (open) a.close(value.p);
      open = false;
    },
  };
});

/**
 * xdp_program__attach: loads the program and attaches it through libxdp's dispatcher,
 * beside the programs already there. The error carries libxdp's log (its reasons are
 * there, not in the errno).
 */
export const libxdpAttach = sys(
  "libxdpAttach",
  (prog: LibxdpProgram, ifindex: number, mode: number): void => {
    const { value: ret, log } = capturing((a) => a.attach(prog.ptr, ifindex, mode, 0));
    if (ret < 0)
      throw new NativeError(
        "libxdp cannot attach through the dispatcher",
        -ret,
        "xdp_program__attach",
        detailOf(log),
      );
  },
);

/** Detaches the program with this kernel id from the interface's dispatcher. */
export const libxdpDetachId = sys("libxdpDetachId", (id: number, ifindex: number): void => {
  const { value, log } = capturing((a) => {
    const p = a.fromId(id);
    const err = Number(a.getError(p));
    if (err) return err;
    try {
      return a.detach(p, ifindex, XDP_MODE_UNSPEC, 0);
    } finally {
      a.close(p);
    }
  });
  if (value < 0)
    throw new NativeError(
      `libxdp cannot detach program ${id}`,
      -value,
      "xdp_program__detach",
      detailOf(log),
    );
});

export interface LibxdpDispatcher {
  /** The dispatcher's own program id; absent for a program attached alone (legacy). */
  dispatcherId?: number;
  legacy: boolean;
  mode: number;
  programs: LibxdpProgramInfo[];
}

/**
 * What libxdp finds on the interface: the dispatcher and its programs in run order, or
 * one legacy program, or null when nothing is attached.
 */
export const libxdpDispatcher = sys(
  "libxdpDispatcher",
  (ifindex: number): LibxdpDispatcher | null => {
    const { value, log } = capturing((a) => {
      const mp = a.mpFromIfindex(ifindex);
      const err = Number(a.getError(mp));
      if (err) return { err };
      if (!mp) return { none: true };
      try {
        const legacy = a.mpLegacy(mp);
        const programs: LibxdpProgramInfo[] = [];
        let p = a.mpNext(null, mp);
        while (p) {
          programs.push(describe(a, p));
          p = a.mpNext(p, mp);
        }
        const main = a.mpMain(mp);
        const d: LibxdpDispatcher = { legacy, mode: a.mpMode(mp), programs };
        if (!legacy && main) d.dispatcherId = a.id(main);
        if (legacy && main && !programs.length) programs.push(describe(a, main));
        return { d };
      } finally {
        a.mpClose(mp);
      }
    });
    if ("err" in value) {
      if (value.err === -2) return null; // ENOENT: nothing attached
      throw new NativeError(
        "libxdp cannot read the interface's XDP programs",
        -value.err!,
        "xdp_multiprog__get_from_ifindex",
        detailOf(log),
      );
    }
    return "none" in value ? null : value.d!;
  },
);
