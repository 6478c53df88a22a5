// The named lab behind `xdpc lab up|down|status`, and a plain native-mode XDP attach
// for tests and tools that drive a lab without the loader's records and pins.
import { progInfo } from "../../native/info.ts";
import { XDP_FLAGS_DRV_MODE, xdpAttach, xdpDetach, xdpQuery } from "../../native/xdp.ts";
import { execFileSync } from "node:child_process";
import {
  createLab,
  destroyLab,
  ifindex,
  labSpec,
  linkExists,
  netnsExists,
  type LabSpec,
} from "./netns.ts";

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

/** Address, prefix length and MAC of an interface, from `ip -o` (in namespace NS when given). */
function readEnd(
  ifname: string,
  ns?: string,
): { addr?: string; prefixLen?: number; mac?: string; xdpProgId?: number } {
  const ip = (...args: string[]) =>
    execFileSync("ip", ns ? ["-n", ns, ...args] : args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  try {
    const link = ip("-o", "link", "show", "dev", ifname);
    const addr = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(
      ip("-o", "-4", "addr", "show", "dev", ifname),
    );
    const prog = /prog\/xdp\w* id (\d+)/.exec(link);
    return {
      addr: addr?.[1],
      prefixLen: addr ? Number(addr[2]) : undefined,
      mac: /link\/ether ([0-9a-f:]{17})/.exec(link)?.[1],
      xdpProgId: prog ? Number(prog[1]) : undefined,
    };
  } catch {
    return {}; // status is best effort
  }
}

/**
 * What exists of lab NAME. `spec` holds the addresses and MACs the interfaces really
 * have (a lab made with another index, such as the demo's, reports its own), falling
 * back to the defaults for parts that are missing.
 */
export function labStatus(name?: string): LabStatus {
  const spec = labSpec(name);
  const netns = netnsExists(spec.name);
  const hostIf = linkExists(spec.hostIf);
  const peerIf = netns && linkExists(spec.peerIf, spec.name);
  const host = hostIf ? readEnd(spec.hostIf) : {};
  const peer = peerIf ? readEnd(spec.peerIf, spec.name) : {};
  const actual: LabSpec = {
    ...spec,
    hostAddr: host.addr ?? spec.hostAddr,
    peerAddr: peer.addr ?? spec.peerAddr,
    prefixLen: host.prefixLen ?? spec.prefixLen,
    hostMac: host.mac ?? spec.hostMac,
    peerMac: peer.mac ?? spec.peerMac,
  };
  return { spec: actual, netns, hostIf, peerIf, xdpProgId: host.xdpProgId };
}

/** `xdpc lab up`: creates lab NAME with the addresses of `index` (error when it exists). */
export function labUp(name?: string, index = 0): LabSpec {
  const spec = labSpec(name, index);
  createLab(spec);
  return spec;
}

/** `xdpc lab down`: removes lab NAME; returns what was removed (empty when nothing was there). */
export function labDown(name?: string): string[] {
  return destroyLab(labSpec(name));
}
