// Network namespaces and veth pairs for the lab. A lab is one namespace NAME plus a
// veth pair: `<NAME>0` stays in the caller's namespace (the receiver: attach filters
// there with the ordinary tools), `<NAME>1` lives inside NAME (the sender: the traffic
// generator runs there). Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking),
// MACs are fixed, IPv6 is off on both ends so the kernel sends nothing of its own
// (no DAD, MLD or router solicitations) and counters in tests stay exact, and the
// receiver filters reverse paths strictly so spoofed sources are never answered.
//
// Entering a namespace uses setns(2) on the calling thread only (or nsenter --net for
// a child): the mount namespace is untouched, so bpffs pins stay visible — unlike
// `ip netns exec`, which remounts /sys and hides the host's /sys/fs/bpf.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import { ifNameToIndex } from "../../native/ifname.ts";
import { enterNetns } from "../../native/thread.ts";
import { CAP_NET_ADMIN, CAP_SYS_ADMIN, effectiveCaps, hasCap } from "../sys/netdev.ts";

export const DEFAULT_LAB = "xdpclab";

export interface LabSpec {
  /** Namespace name (also the prefix of both interface names). */
  name: string;
  /** Receiver end, in the caller's namespace. */
  hostIf: string;
  /** Sender end, inside the namespace. */
  peerIf: string;
  hostAddr: string;
  peerAddr: string;
  prefixLen: number;
  hostMac: string;
  peerMac: string;
  /** Receive and transmit queues of each veth end (default 1); veth picks the receive queue from the sending CPU. */
  queues?: number;
}

/** Lab names become interface names (`<name>0`, at most 15 bytes), so keep them short and plain. */
export function validLabName(name: string): boolean {
  return /^[a-z][a-z0-9_-]{0,13}$/.test(name);
}

/**
 * The spec of lab NAME. `index` (0..63) picks a distinct /30 inside 198.18.0.0/24
 * and distinct MACs, so tests can run several labs side by side.
 */
export function labSpec(name = DEFAULT_LAB, index = 0): LabSpec {
  if (!validLabName(name))
    throw new LabError(
      `invalid lab name '${name}' (lowercase letters, digits, '-' or '_', at most 14)`,
    );
  if (!Number.isInteger(index) || index < 0 || index > 63)
    throw new LabError(`lab index ${index} outside 0..63`);
  const base = index * 4;
  const hex = index.toString(16).padStart(2, "0");
  return {
    name,
    hostIf: `${name}0`,
    peerIf: `${name}1`,
    hostAddr: `198.18.0.${base + 1}`,
    peerAddr: `198.18.0.${base + 2}`,
    prefixLen: 30,
    hostMac: `02:00:c6:12:${hex}:01`,
    peerMac: `02:00:c6:12:${hex}:02`,
  };
}

/** A failed lab operation, with the command's own error text. */
export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LabError";
  }
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    if (err.code === "ENOENT")
      throw new LabError(`${cmd} not found (install iproute2 / util-linux)`);
    const text = (err.stderr ?? "").trim() || err.message;
    throw new LabError(`${cmd} ${args.join(" ")}: ${text.split("\n")[0]}`);
  }
}

/** Runs `ip ARGS…`; a failure is a LabError with iproute2's own message. */
export const ip = (...args: string[]) => run("ip", args);

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** Whether interface IF exists in the calling thread's namespace (or in namespace NS). */
export function linkExists(ifname: string, ns?: string): boolean {
  if (!ns) return ifNameToIndex(ifname) > 0;
  try {
    run("ip", ["-n", ns, "link", "show", "dev", ifname]);
    return true;
  } catch {
    return false;
  }
}

/** ifindex of IF in the calling thread's namespace (or in namespace NS); throws LabError when absent. */
export function ifindex(ifname: string, ns?: string): number {
  if (!ns) {
    const index = ifNameToIndex(ifname);
    if (index <= 0) throw new LabError(`no network interface '${ifname}'`);
    return index;
  }
  const out = ip("-n", ns, "-o", "link", "show", "dev", ifname);
  const m = /^(\d+):/.exec(out);
  if (!m) throw new LabError(`cannot read the ifindex of '${ifname}' in namespace ${ns}`);
  return Number(m[1]);
}

function disableIpv6(ifname: string, ns?: string): void {
  // /proc/sys/net shows the opening thread's namespace, so the namespace end is written
  // from inside it (no sysctl binary needed: procps is not on minimal Debian images).
  const write = () => writeFileSync(`/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, "1");
  try {
    if (ns) runInNetns(ns, write);
    else write();
  } catch (e) {
    // A kernel without IPv6 has nothing to silence.
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new LabError(`cannot disable IPv6 on ${ifname}: ${(e as Error).message}`);
  }
}

/**
 * Creates the namespace and the veth pair, addresses and brings both ends up. On any
 * failure, removes what it made and rethrows. Throws when the lab already exists.
 */
export function createLab(spec: LabSpec): void {
  const caps = effectiveCaps();
  const missing = [CAP_SYS_ADMIN, CAP_NET_ADMIN]
    .filter((c) => !hasCap(c, caps))
    .map((c) => (c === CAP_SYS_ADMIN ? "CAP_SYS_ADMIN" : "CAP_NET_ADMIN"));
  if (missing.length)
    throw new LabError(
      `a lab needs ${missing.join(" and ")} (namespaces and veth pairs; run as root)`,
    );
  if (netnsExists(spec.name))
    throw new LabError(
      `network namespace '${spec.name}' already exists (run \`xdpc lab down --name ${spec.name}\`)`,
    );
  if (linkExists(spec.hostIf)) throw new LabError(`interface '${spec.hostIf}' already exists`);
  try {
    ip("netns", "add", spec.name);
    const q = spec.queues && spec.queues > 1 ? spec.queues : 0;
    const queues = q ? ["numrxqueues", `${q}`, "numtxqueues", `${q}`] : [];
    ip(
      "link",
      "add",
      spec.hostIf,
      "address",
      spec.hostMac,
      ...queues,
      "type",
      "veth",
      "peer",
      "name",
      spec.peerIf,
      "address",
      spec.peerMac,
      ...queues,
      "netns",
      spec.name,
    );
    disableIpv6(spec.hostIf);
    // Strict reverse-path filtering on the receiver: a frame from a spoofed source (a
    // flood from 198.19.0.0/16, say) that a filter passes is dropped by the stack, so the
    // host never answers it through its default route — lab traffic stays in the lab.
    writeFileSync(`/proc/sys/net/ipv4/conf/${spec.hostIf}/rp_filter`, "1");
    disableIpv6(spec.peerIf, spec.name);
    ip("addr", "add", `${spec.hostAddr}/${spec.prefixLen}`, "dev", spec.hostIf);
    ip("-n", spec.name, "addr", "add", `${spec.peerAddr}/${spec.prefixLen}`, "dev", spec.peerIf);
    // Static neighbours: no ARP traffic of the kernel's own on the wire.
    ip(
      "neigh",
      "replace",
      spec.peerAddr,
      "lladdr",
      spec.peerMac,
      "dev",
      spec.hostIf,
      "nud",
      "permanent",
    );
    ip(
      "-n",
      spec.name,
      "neigh",
      "replace",
      spec.hostAddr,
      "lladdr",
      spec.hostMac,
      "dev",
      spec.peerIf,
      "nud",
      "permanent",
    );
    ip("-n", spec.name, "link", "set", "lo", "up");
    ip("-n", spec.name, "link", "set", spec.peerIf, "up");
    ip("link", "set", spec.hostIf, "up");
  } catch (e) {
    destroyLab(spec);
    throw e;
  }
}

/**
 * Removes the veth pair and the namespace; idempotent and never throws for parts that
 * are already gone. Returns what it removed.
 */
export function destroyLab(spec: Pick<LabSpec, "name" | "hostIf">): string[] {
  const removed: string[] = [];
  if (linkExists(spec.hostIf)) {
    try {
      ip("link", "del", spec.hostIf); // takes the peer with it
      removed.push(spec.hostIf);
    } catch {
      /* raced with another remover */
    }
  }
  if (netnsExists(spec.name)) {
    try {
      ip("netns", "del", spec.name); // any interface left inside goes with it
      removed.push(`netns ${spec.name}`);
    } catch {
      /* raced with another remover */
    }
  }
  return removed;
}

// ---- entering a namespace -------------------------------------------------------

/**
 * Runs a synchronous function with the calling thread inside namespace NAME and
 * switches back afterwards, also when it throws. Only synchronous work belongs here:
 * an `await` inside would let unrelated code run in the namespace.
 */
export function runInNetns<T>(name: string, fn: () => T): T {
  if (!netnsExists(name)) throw new LabError(`no network namespace '${name}'`);
  const home = openSync("/proc/thread-self/ns/net", "r");
  let target = -1;
  try {
    target = openSync(netnsPath(name), "r");
    enterNetns(target, name);
    try {
      return fn();
    } finally {
      enterNetns(home, "of this process");
    }
  } finally {
    if (target >= 0) closeSync(target);
    closeSync(home);
  }
}

/** Spawns `cmd args` inside namespace NAME through nsenter --net (same mount namespace, bpffs shared). */
export function spawnInNetns(
  name: string,
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): ChildProcess {
  if (!netnsExists(name)) throw new LabError(`no network namespace '${name}'`);
  return spawn("nsenter", [`--net=${netnsPath(name)}`, "--", cmd, ...args], opts);
}

/** Runs `cmd args` inside namespace NAME and returns its stdout; throws LabError on failure. */
export function execInNetns(name: string, cmd: string, args: string[]): string {
  if (!netnsExists(name)) throw new LabError(`no network namespace '${name}'`);
  return run("nsenter", [`--net=${netnsPath(name)}`, "--", cmd, ...args]);
}

// ---- cleanup on exit, SIGINT and SIGTERM ----------------------------------------

const cleanups = new Set<() => void>();
let handlersInstalled = false;

function runCleanups(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      /* best effort: keep cleaning the rest */
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runCleanups();
  process.exit(signal === "SIGINT" ? 130 : 143);
}

/**
 * Registers a synchronous cleanup that runs on SIGINT, SIGTERM or process exit if the
 * caller has not run it by then. Returns a function that runs it now (once) and
 * unregisters it.
 */
export function onCleanup(fn: () => void): () => void {
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("exit", runCleanups);
  }
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    cleanups.delete(once);
    fn();
  };
  cleanups.add(once);
  return once;
}

/** Creates a lab, registers its removal for signals and exit, and returns the remover. */
export function bringUpLab(spec: LabSpec): () => void {
  createLab(spec);
  return onCleanup(() => void destroyLab(spec));
}

/**
 * Test helper: runs `fn` with a fresh lab NAME and always removes it afterwards (also
 * when `fn` throws, and on SIGINT/SIGTERM). A stale lab of the same name from a crashed
 * run is removed first.
 */
export async function withLab<T>(
  name: string,
  fn: (lab: LabSpec) => T | Promise<T>,
  index = 0,
  extra: Pick<LabSpec, "queues"> = {},
): Promise<T> {
  const spec = { ...labSpec(name, index), ...extra };
  destroyLab(spec);
  const remove = bringUpLab(spec);
  try {
    return await fn(spec);
  } finally {
    remove();
  }
}
