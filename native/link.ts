// bpf_link attachments (bpf_link_create / bpf_link_update / bpf_link_detach). A link
// belongs to its fds: the kernel detaches it when the last one closes — also when the
// process dies, even by SIGKILL — unless it is pinned in bpffs (objPin in info.ts).
// libbpf 1.1.2 has no bpf_program__attach_tcx, but its bpf_link_create passes the
// attach type and flags through, so XDP and tcx links both come from here.
import { check, koffi, library } from "./lib.ts";
import { sys } from "./sys.ts";

/** enum bpf_attach_type (include/uapi/linux/bpf.h). */
export const BPF_XDP = 37;
export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;

/** bpf_link_update: replace only if `oldProgFd`'s program is the one attached. */
const BPF_F_REPLACE = 1 << 2;

let api:
  | {
      create: (progFd: number, targetFd: number, type: number, opts: unknown) => number;
      update: (linkFd: number, progFd: number, opts: unknown) => number;
      detach: (linkFd: number) => number;
      CreateOpts: unknown;
      UpdateOpts: unknown;
    }
  | undefined;

function bind() {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  // Only the leading fields: libbpf accepts an opts struct shorter than its own (sz says how long).
  const CreateOpts = k.struct("xdpc_bpf_link_create_opts", { sz: "size_t", flags: "uint32_t" });
  const UpdateOpts = k.struct("xdpc_bpf_link_update_opts", {
    sz: "size_t",
    flags: "uint32_t",
    old_prog_fd: "uint32_t",
  });
  api = {
    create: bpf.func(
      "int bpf_link_create(int prog_fd, int target_fd, int attach_type, const xdpc_bpf_link_create_opts *opts)",
    ),
    update: bpf.func(
      "int bpf_link_update(int link_fd, int new_prog_fd, const xdpc_bpf_link_update_opts *opts)",
    ),
    detach: bpf.func("int bpf_link_detach(int link_fd)"),
    CreateOpts,
    UpdateOpts,
  };
  return api;
}

/**
 * Attaches `progFd` to `targetFd` (an ifindex for BPF_XDP and tcx) with `flags` (for XDP
 * the XDP_FLAGS_*_MODE bits) and returns the link's fd.
 */
export const linkCreate = sys(
  "linkCreate",
  function linkCreate(progFd: number, targetFd: number, attachType: number, flags = 0): number {
    const a = bind();
    const opts = { sz: koffi().sizeof(a.CreateOpts as never), flags };
    return check(
      a.create(progFd, targetFd, attachType, opts),
      "cannot create the BPF link",
      "bpf_link_create",
    );
  },
);

/**
 * Swaps the link's program for `progFd` in one kernel operation; with `oldProgFd`, only
 * if that program is still the attached one (EPERM otherwise, as the kernel answers).
 */
export const linkUpdate = sys(
  "linkUpdate",
  function linkUpdate(linkFd: number, progFd: number, oldProgFd?: number): void {
    const a = bind();
    const opts = {
      sz: koffi().sizeof(a.UpdateOpts as never),
      flags: oldProgFd === undefined ? 0 : BPF_F_REPLACE,
      old_prog_fd: oldProgFd ?? 0,
    };
    check(a.update(linkFd, progFd, opts), "cannot replace the link's program", "bpf_link_update");
  },
);

/** Detaches the link's program now; the fd stays open (and must still be closed). */
export const linkDetach = sys("linkDetach", function linkDetach(linkFd: number): void {
  check(bind().detach(linkFd), "cannot detach the BPF link", "bpf_link_detach");
});
