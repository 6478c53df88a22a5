// The named lab behind `xdpc lab up|down|status`, and a plain native-mode XDP attach
// for tests and tools that drive a lab without the loader's records and pins.
import { progInfo } from "../native/info.ts";
import { XDP_FLAGS_DRV_MODE, xdpAttach, xdpDetach, xdpQuery } from "../native/xdp.ts";
import { execFileSync } from "node:child_process";
import { createLab, destroyLab, ifindex, labSpec, linkExists, netnsExists, type LabSpec } from "./netns.ts";

/**
 * Attaches `progFd` in native (driver) mode to interface IF of the calling thread's
 * namespace and returns a detacher that removes exactly that attachment. veth
 * delivers redirected frames only to a peer with a native XDP program, which is what
 * the lab needs.
 */
export function attachNative(ifname: string, progFd: number): () => void {
  const index = ifindex(ifname);
  xdpAttach(index, progFd, XDP_FLAGS_DRV_MODE);
  const progId = progInfo(progFd).id;
  return () => {
    // The interface may already be gone with its lab; then so is the attachment. Only
    // this program is detached (a replacement made meanwhile stays).
    if (!linkExists(ifname)) return;
    try {
      if (xdpQuery(index).drvProgId !== progId) return; // already detached or replaced
      xdpDetach(index, XDP_FLAGS_DRV_MODE, progFd);
    } catch {
      /* raced with another detach */
    }
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
