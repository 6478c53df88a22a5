// Low-level bpf(2) wrappers from libbpf's bpf.h: load raw instructions, run a
// program with BPF_PROG_TEST_RUN, close descriptors.
import { check, koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

export const BPF_PROG_TYPE_XDP = 6;
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

let api:
  | {
      progLoad: (...a: unknown[]) => number;
      testRun: (fd: number, opts: unknown) => number;
      close: (fd: number) => number;
      LoadOpts: unknown;
      TestRunOpts: unknown;
    }
  | undefined;

function bind() {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  const libc = library("libc.so.6");
  const LoadOpts = k.struct("xdpc_bpf_prog_load_opts", {
    sz: "size_t",
    attempts: "int",
    expected_attach_type: "int",
    prog_btf_fd: "uint32_t",
    prog_flags: "uint32_t",
    prog_ifindex: "uint32_t",
    kern_version: "uint32_t",
    attach_btf_id: "uint32_t",
    attach_prog_fd: "uint32_t",
    attach_btf_obj_fd: "uint32_t",
    fd_array: "void *",
    func_info: "void *",
    func_info_cnt: "uint32_t",
    func_info_rec_size: "uint32_t",
    line_info: "void *",
    line_info_cnt: "uint32_t",
    line_info_rec_size: "uint32_t",
    log_level: "uint32_t",
    log_size: "uint32_t",
    log_buf: "void *",
  });
  const TestRunOpts = k.struct("xdpc_bpf_test_run_opts", {
    sz: "size_t",
    data_in: "void *",
    data_out: "void *",
    data_size_in: "uint32_t",
    data_size_out: "uint32_t",
    ctx_in: "void *",
    ctx_out: "void *",
    ctx_size_in: "uint32_t",
    ctx_size_out: "uint32_t",
    retval: "uint32_t",
    repeat: "int",
    duration: "uint32_t",
    flags: "uint32_t",
    cpu: "uint32_t",
    batch_size: "uint32_t",
  });
  api = {
    progLoad: bpf.func(
      "int bpf_prog_load(int type, const char *name, const char *license, const void *insns, size_t cnt, const xdpc_bpf_prog_load_opts *opts)",
    ),
    testRun: bpf.func("int bpf_prog_test_run_opts(int fd, _Inout_ xdpc_bpf_test_run_opts *opts)"),
    close: libc.func("int close(int fd)"),
    LoadOpts,
    TestRunOpts,
  };
  return api;
}

export interface RawLoadResult {
  fd: number;
  log: string;
}

/**
 * Loads raw instructions (8 bytes each, already relocated) as a program. On a
 * verifier rejection the error carries the verifier log.
 */
export const loadRawProgram = sys(
  "loadRawProgram",
  function loadRawProgram(
    insns: Uint8Array,
    opts: { type?: number; name?: string; license?: string; logLevel?: number } = {},
  ): RawLoadResult {
    const a = bind();
    const logBuf = Buffer.alloc(1 << 20);
    const o = {
      sz: koffi().sizeof(a.LoadOpts as never),
      attempts: 0,
      expected_attach_type: 0,
      prog_btf_fd: 0,
      prog_flags: 0,
      prog_ifindex: 0,
      kern_version: 0,
      attach_btf_id: 0,
      attach_prog_fd: 0,
      attach_btf_obj_fd: 0,
      fd_array: null,
      func_info: null,
      func_info_cnt: 0,
      func_info_rec_size: 0,
      line_info: null,
      line_info_cnt: 0,
      line_info_rec_size: 0,
      log_level: opts.logLevel ?? 1,
      log_size: logBuf.length,
      log_buf: logBuf,
    };
    let fd = a.progLoad(
      opts.type ?? BPF_PROG_TYPE_XDP,
      opts.name ?? "xdpc_raw",
      opts.license ?? "GPL",
      Buffer.from(insns.buffer, insns.byteOffset, insns.byteLength),
      insns.byteLength / 8,
      o,
    );
    const log = logBuf.toString("utf8", 0, Math.max(0, logBuf.indexOf(0)));
    if (fd < 0) {
      const err = new NativeError(
        `program rejected${log ? ":\n" + log : ""}`,
        -fd,
        "bpf_prog_load",
      );
      (err as NativeError & { log?: string }).log = log;
      throw err;
    }
    return { fd, log };
  },
);

export interface TestRunResult {
  retval: number;
  data: Uint8Array;
  duration: number; // ns per run, as the kernel averages it
  /** The context after the run (struct __sk_buff for tc), when `ctxIn` was given. */
  ctx?: Uint8Array;
}

/** BPF_PROG_TEST_RUN on one packet. `repeat` > 1 times it (see DESIGN: sample packets, big repeat). */
export const testRun = sys(
  "testRun",
  function testRun(
    progFd: number,
    packet: Uint8Array,
    opts: {
      repeat?: number;
      flags?: number;
      outSize?: number;
      ingressIfindex?: number;
      ctxIn?: Uint8Array;
    } = {},
  ): TestRunResult {
    const a = bind();
    // struct xdp_md in: data 0, data_end = the frame's length, the ingress device (queue 0)
    // looked up in the calling thread's network namespace, as bpf_fib_lookup then sees it.
    const ctx = opts.ingressIfindex
      ? Buffer.from(new Uint32Array([0, packet.length, 0, opts.ingressIfindex, 0, 0]).buffer)
      : null;
    // Room for adjust_tail growth beyond the input: the kernel grows a test-run frame up
    // to about a page (512 bytes made 40 × adjustTail(16) fail with ENOSPC: seed 12487).
    const out = Buffer.alloc(opts.outSize ?? packet.length + 4096);
    const ctxIn = opts.ctxIn
      ? Buffer.from(opts.ctxIn.buffer, opts.ctxIn.byteOffset, opts.ctxIn.byteLength)
      : null;
    const ctxOut = ctxIn ? Buffer.alloc(ctxIn.length) : null;
    const o = {
      sz: koffi().sizeof(a.TestRunOpts as never),
      data_in: Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength),
      data_out: out,
      data_size_in: packet.length,
      data_size_out: out.length,
      ctx_in: ctxIn ?? ctx,
      ctx_out: ctxOut,
      ctx_size_in: ctxIn?.length ?? ctx?.length ?? 0,
      ctx_size_out: ctxOut?.length ?? 0,
      retval: 0,
      repeat: opts.repeat ?? 1,
      duration: 0,
      flags: opts.flags ?? 0,
      cpu: 0,
      batch_size: 0,
    };
    check(a.testRun(progFd, o), "BPF_PROG_TEST_RUN failed", "bpf_prog_test_run_opts");
    return {
      retval: o.retval >>> 0,
      data: new Uint8Array(out.subarray(0, o.data_size_out)),
      duration: o.duration,
      ...(ctxOut ? { ctx: new Uint8Array(ctxOut.subarray(0, o.ctx_size_out)) } : {}),
    };
  },
);

export const closeFd = sys("closeFd", function closeFd(fd: number): void {
  if (fd >= 0) bind().close(fd);
});
