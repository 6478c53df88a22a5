// Interfaces of the current network namespace, and the namespace's identity (so
// that two namespaces with an `eth0` each never share xdpc state or pins).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { ifIndexToName, ifNameToIndex } from "../../native/ifname.ts";

export { ifIndexToName, ifNameToIndex };

// thread-self, not self: a setns() on one thread (the lab's runInNetns) moves only
// that thread, and /proc/self shows the main thread's namespace.
const SELF = "/proc/thread-self";

/** Names of the interfaces of the calling thread's network namespace. */
export function listInterfaces(): string[] {
  const text = readFileSync(`${SELF}/net/dev`, "utf8");
  return text
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0]!.trim())
    .filter(Boolean);
}

/** Inode of the calling thread's network namespace (what `ip netns identify` compares). */
export function netnsInode(): number {
  return statSync(`${SELF}/ns/net`).ino;
}

/**
 * True in the namespace of PID 1 (the host's, outside containers), and when that
 * cannot be read (some sandboxes hide PID 1): the loader then still refuses to touch
 * a record that another live namespace owns (FilterRecord.netns).
 */
export function inInitNetns(): boolean {
  try {
    return statSync("/proc/1/ns/net").ino === netnsInode();
  } catch {
    return true;
  }
}

/**
 * The name xdpc files an interface under: the interface name in the host namespace,
 * `name@ns<inode>` in any other, since pins on /sys/fs/bpf and /run are shared by all
 * namespaces of the mount namespace.
 */
export function interfaceKey(iface: string): string {
  return inInitNetns() ? iface : `${iface}@ns${netnsInode()}`;
}

/** Linux capability numbers the loader needs (include/uapi/linux/capability.h). */
export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;
export const CAP_BPF = 39;

/** The effective capability set of this process. */
export function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? BigInt("0x" + m[1]) : 0n;
}

export function hasCap(cap: number, caps = effectiveCaps()): boolean {
  return ((caps >> BigInt(cap)) & 1n) === 1n;
}

/** What a load/attach lacks, as the capability names to grant; empty when nothing. */
export function missingCaps(caps = effectiveCaps()): string[] {
  const out: string[] = [];
  // CAP_SYS_ADMIN still implies CAP_BPF for bpf(2) on every kernel.
  if (!hasCap(CAP_BPF, caps) && !hasCap(CAP_SYS_ADMIN, caps)) out.push("CAP_BPF");
  if (!hasCap(CAP_NET_ADMIN, caps)) out.push("CAP_NET_ADMIN");
  return out;
}

/** Whether network namespace `ino` still exists (a process lives in it, or /run/netns holds it). */
export function netnsAlive(ino: number): boolean {
  if (ino === netnsInode()) return true;
  const candidates: string[] = [];
  try {
    for (const n of readdirSync("/run/netns")) candidates.push(`/run/netns/${n}`);
  } catch {
    // no named namespaces
  }
  for (const pid of readdirSync("/proc"))
    if (/^\d+$/.test(pid)) candidates.push(`/proc/${pid}/ns/net`);
  for (const p of candidates) {
    try {
      if (statSync(p).ino === ino) return true;
    } catch {
      // gone, or not ours to look at
    }
  }
  return false;
}
