// XDP attachment through libbpf's netlink API (bpf_xdp_attach/detach/query). Netlink attachments belong to the
// interface, not to a process or fd, so they outlive the CLI; XDP_FLAGS_REPLACE
// makes a swap one atomic kernel operation.
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const XDP_FLAGS_REPLACE = 1 << 4;

/** bpf_xdp_query's attach_mode (XDP_ATTACHED_*). */
export const XDP_ATTACHED_NONE = 0;
export const XDP_ATTACHED_DRV = 1;
export const XDP_ATTACHED_SKB = 2;
export const XDP_ATTACHED_HW = 3;
export const XDP_ATTACHED_MULTI = 4;

let api:
  | {
      attach: (ifindex: number, fd: number, flags: number, opts: unknown) => number;
      detach: (ifindex: number, flags: number, opts: unknown) => number;
      query: (ifindex: number, flags: number, opts: Record<string, number>) => number;
      AttachOpts: unknown;
      QueryOpts: unknown;
    }
  | undefined;

function bind() {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  const AttachOpts = k.struct("xdpc_bpf_xdp_attach_opts", { sz: "size_t", old_prog_fd: "int" });
  const QueryOpts = k.struct("xdpc_bpf_xdp_query_opts", {
    sz: "size_t",
    prog_id: "uint32_t",
    drv_prog_id: "uint32_t",
    hw_prog_id: "uint32_t",
    skb_prog_id: "uint32_t",
    attach_mode: "uint8_t",
  });
  api = {
    attach: bpf.func(
      "int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const xdpc_bpf_xdp_attach_opts *opts)",
    ),
    detach: bpf.func(
      "int bpf_xdp_detach(int ifindex, uint32_t flags, const xdpc_bpf_xdp_attach_opts *opts)",
    ),
    query: bpf.func(
      "int bpf_xdp_query(int ifindex, int flags, _Inout_ xdpc_bpf_xdp_query_opts *opts)",
    ),
    AttachOpts,
    QueryOpts,
  };
  return api;
}

function attachOpts(oldProgFd: number | undefined) {
  const a = bind();
  return oldProgFd === undefined
    ? null
    : { sz: koffi().sizeof(a.AttachOpts as never), old_prog_fd: oldProgFd };
}

/**
 * Attaches `progFd` to `ifindex`. With `oldProgFd`, XDP_FLAGS_REPLACE is added: the
 * kernel swaps only if that program is the one attached (EEXIST otherwise).
 */
export const xdpAttach = sys(
  "xdpAttach",
  function xdpAttach(ifindex: number, progFd: number, flags: number, oldProgFd?: number): void {
    const f = oldProgFd === undefined ? flags : flags | XDP_FLAGS_REPLACE;
    const ret = bind().attach(ifindex, progFd, f, attachOpts(oldProgFd));
    if (ret < 0) throw new NativeError("cannot attach the XDP program", -ret, "bpf_xdp_attach");
  },
);

/** Detaches the program in the mode given by `flags` (only if it is `oldProgFd`'s, when given). */
export const xdpDetach = sys(
  "xdpDetach",
  function xdpDetach(ifindex: number, flags: number, oldProgFd?: number): void {
    const f = oldProgFd === undefined ? flags : flags | XDP_FLAGS_REPLACE;
    const ret = bind().detach(ifindex, f, attachOpts(oldProgFd));
    if (ret < 0) throw new NativeError("cannot detach the XDP program", -ret, "bpf_xdp_detach");
  },
);

export interface XdpQuery {
  /** The program id when exactly one mode has a program (0 otherwise). */
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
  attachMode: number;
}

export const xdpQuery = sys("xdpQuery", function xdpQuery(ifindex: number): XdpQuery {
  const a = bind();
  const opts = {
    sz: koffi().sizeof(a.QueryOpts as never),
    prog_id: 0,
    drv_prog_id: 0,
    hw_prog_id: 0,
    skb_prog_id: 0,
    attach_mode: 0,
  };
  const ret = a.query(ifindex, 0, opts);
  if (ret < 0) throw new NativeError("cannot query the XDP attachment", -ret, "bpf_xdp_query");
  return {
    progId: opts.prog_id,
    drvProgId: opts.drv_prog_id,
    skbProgId: opts.skb_prog_id,
    hwProgId: opts.hw_prog_id,
    attachMode: opts.attach_mode,
  };
});
