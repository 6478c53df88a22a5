// The named lab behind `xdpc lab up|down|status`, and the small XDP attach the lab
// and the demo need (native mode on the receiving veth end, detached on cleanup).
import { library, NativeError } from "../native/lib.ts";
import { execFileSync } from "node:child_process";
import { createLab, destroyLab, ifindex, labSpec, linkExists, netnsExists, type LabSpec } from "./netns.ts";

const XDP_FLAGS_DRV_MODE = 1 << 2;

let xdpApi: { attach: (i: number, fd: number, f: number, o: unknown) => number } | undefined;
function xdp() {
  xdpApi ??= {
    attach: library("libbpf.so.1").func(
      "int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const void *opts)",
    ) as (i: number, fd: number, f: number, o: unknown) => number,
  };
  return xdpApi;
}

/**
 * Attaches `progFd` in native (driver) mode to interface IF of the calling thread's
 * namespace and returns a detacher that removes exactly that attachment. veth
 * delivers redirected frames only to a peer with a native XDP program, which is what
 * the lab needs.
 */
export function attachNative(ifname: string, progFd: number): () => void {
  const index = ifindex(ifname);
  const ret = xdp().attach(index, progFd, XDP_FLAGS_DRV_MODE, null);
  if (ret < 0) throw new NativeError(`cannot attach the XDP program to ${ifname}`, -ret, "bpf_xdp_attach");
  return () => {
    // The interface may already be gone with its lab; then so is the attachment.
    if (linkExists(ifname)) xdp().attach(index, -1, XDP_FLAGS_DRV_MODE, null);
  };
}

export interface LabStatus {
  spec: LabSpec;
  /** Namespace present. */
  netns: boolean;
  /** Receiver end present in the caller's namespace. */
  hostIf: boolean;
  /** Sender end present inside the namespace. */
  peerIf: boolean;
  /** Id of the XDP program attached to the receiver end, if any. */
  xdpProgId?: number;
}

export function labStatus(name?: string): LabStatus {
  const spec = labSpec(name);
  const netns = netnsExists(spec.name);
  const hostIf = linkExists(spec.hostIf);
  const peerIf = netns && linkExists(spec.peerIf, spec.name);
  let xdpProgId: number | undefined;
  if (hostIf) {
    try {
      const line = execFileSync("ip", ["-o", "link", "show", "dev", spec.hostIf], { encoding: "utf8" });
      const m = /prog\/xdp\w* id (\d+)/.exec(line);
      if (m) xdpProgId = Number(m[1]);
    } catch {
      /* status is best effort */
    }
  }
  return { spec, netns, hostIf, peerIf, xdpProgId };
}

/** `xdpc lab up`: creates lab NAME (error when it exists). */
export function labUp(name?: string): LabSpec {
  const spec = labSpec(name);
  createLab(spec);
  return spec;
}

/** `xdpc lab down`: removes lab NAME; returns what was removed (empty when nothing was there). */
export function labDown(name?: string): string[] {
  return destroyLab(labSpec(name));
}
