// tc attachment points. On kernels with tcx (6.6+) a tc program is attached by a
// bpf_link (native/link.ts) and listed by BPF_PROG_QUERY on the interface; on older
// ones, as a direct-action cls_bpf filter under the clsact qdisc through libbpf's
// netlink API (bpf_tc_*), which belongs to the interface like an XDP attachment does.
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

/** enum bpf_tc_attach_point. */
const BPF_TC_INGRESS = 1 << 0;
const BPF_TC_EGRESS = 1 << 1;
/** bpf_tc_attach: replace the filter with the same handle and priority. */
const BPF_TC_F_REPLACE = 1 << 0;

export type TcDirection = "ingress" | "egress";

let api:
  | {
      query: (
        target: number,
        type: number,
        flags: number,
        attachFlags: number[],
        ids: Uint32Array,
        count: number[],
      ) => number;
      hookCreate: (hook: unknown) => number;
      attach: (hook: unknown, opts: Record<string, number>) => number;
      detach: (hook: unknown, opts: unknown) => number;
      tcQuery: (hook: unknown, opts: Record<string, number>) => number;
      Hook: unknown;
      Opts: unknown;
    }
  | undefined;

function bind() {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  const Hook = k.struct("xdpc_bpf_tc_hook", {
    sz: "size_t",
    ifindex: "int",
    attach_point: "int",
    parent: "uint32_t",
  });
  const Opts = k.struct("xdpc_bpf_tc_opts", {
    sz: "size_t",
    prog_fd: "int",
    flags: "uint32_t",
    prog_id: "uint32_t",
    handle: "uint32_t",
    priority: "uint32_t",
  });
  api = {
    query: bpf.func(
      "int bpf_prog_query(int target_fd, int type, uint32_t query_flags, _Out_ uint32_t *attach_flags, _Out_ uint32_t *prog_ids, _Inout_ uint32_t *prog_cnt)",
    ),
    hookCreate: bpf.func("int bpf_tc_hook_create(xdpc_bpf_tc_hook *hook)"),
    attach: bpf.func(
      "int bpf_tc_attach(const xdpc_bpf_tc_hook *hook, _Inout_ xdpc_bpf_tc_opts *opts)",
    ),
    detach: bpf.func(
      "int bpf_tc_detach(const xdpc_bpf_tc_hook *hook, const xdpc_bpf_tc_opts *opts)",
    ),
    tcQuery: bpf.func(
      "int bpf_tc_query(const xdpc_bpf_tc_hook *hook, _Inout_ xdpc_bpf_tc_opts *opts)",
    ),
    Hook,
    Opts,
  };
  return api;
}

/**
 * The ids of the programs attached at `attachType` (BPF_TCX_INGRESS/EGRESS) of an
 * interface, in run order.
 */
export const progQuery = sys(
  "progQuery",
  function progQuery(ifindex: number, attachType: number): number[] {
    const a = bind();
    const ids = new Uint32Array(64);
    const count = [ids.length];
    const ret = a.query(ifindex, attachType, 0, [0], ids, count);
    if (ret < 0) throw new NativeError("cannot query the tc programs", -ret, "bpf_prog_query");
    return [...ids.subarray(0, Math.min(count[0]!, ids.length))];
  },
);

function hook(ifindex: number, dir: TcDirection) {
  const a = bind();
  return {
    sz: koffi().sizeof(a.Hook as never),
    ifindex,
    attach_point: dir === "ingress" ? BPF_TC_INGRESS : BPF_TC_EGRESS,
    parent: 0,
  };
}

function opts(fields: { progFd?: number; flags?: number; handle: number; priority: number }) {
  return {
    sz: koffi().sizeof(bind().Opts as never),
    prog_fd: fields.progFd ?? 0,
    flags: fields.flags ?? 0,
    prog_id: 0,
    handle: fields.handle,
    priority: fields.priority,
  };
}

/** Adds the clsact qdisc to an interface unless it has one. */
export const clsactCreate = sys("clsactCreate", function clsactCreate(ifindex: number): void {
  const ret = bind().hookCreate(hook(ifindex, "ingress"));
  if (ret < 0 && -ret !== 17 /* EEXIST */)
    throw new NativeError("cannot add the clsact qdisc", -ret, "bpf_tc_hook_create");
});

/**
 * Attaches `progFd` as the direct-action filter `handle`/`priority` of the clsact
 * qdisc's `dir` hook; with `replace`, swaps the program of that filter in one kernel
 * operation. Returns the attached program's id.
 */
export const clsactAttach = sys(
  "clsactAttach",
  function clsactAttach(
    ifindex: number,
    dir: TcDirection,
    progFd: number,
    at: { handle: number; priority: number },
    replace: boolean,
  ): number {
    const o = opts({ progFd, flags: replace ? BPF_TC_F_REPLACE : 0, ...at });
    const ret = bind().attach(hook(ifindex, dir), o);
    if (ret < 0) throw new NativeError("cannot attach the tc program", -ret, "bpf_tc_attach");
    return o.prog_id;
  },
);

/** The id of the program of clsact filter `handle`/`priority` at `dir`, or 0 when there is none. */
export const clsactQuery = sys(
  "clsactQuery",
  function clsactQuery(
    ifindex: number,
    dir: TcDirection,
    at: { handle: number; priority: number },
  ): number {
    const o = opts(at);
    const ret = bind().tcQuery(hook(ifindex, dir), o);
    if (ret === -2 /* ENOENT */ || ret === -22 /* EINVAL: no clsact qdisc */) return 0;
    if (ret < 0) throw new NativeError("cannot query the tc filter", -ret, "bpf_tc_query");
    return o.prog_id;
  },
);

export const clsactDetach = sys(
  "clsactDetach",
  function clsactDetach(
    ifindex: number,
    dir: TcDirection,
    at: { handle: number; priority: number },
  ): void {
    const ret = bind().detach(hook(ifindex, dir), opts(at));
    if (ret < 0) throw new NativeError("cannot detach the tc program", -ret, "bpf_tc_detach");
  },
);
