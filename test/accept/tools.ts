// The external tools of the acceptance test, run so that they leave nothing behind:
// bpffs work happens on a fresh bpffs mounted in a private mount namespace (pins made
// by bpftool, ip and libxdp, maps pinned by name included, vanish with it), and
// interfaces live in a network namespace the test creates and deletes.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { stripTargetLabel } from "../bpf/objdump.ts";

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input?: string): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, timeout: 60_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Fails with the command's output unless it exited 0. */
export function ok(r: Run, what: string): Run {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\n${r.stderr}\n${r.stdout}`);
  return r;
}

/**
 * Runs a shell script with a private bpffs at /sys/fs/bpf (positional args $1…).
 * The script creates its own private directory below it and removes its pins itself;
 * the mount disappears with the namespace in any case.
 */
export function withPrivateBpffs(script: string, args: string[]): Run {
  return run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-ec",
    `mount -t bpf bpf /sys/fs/bpf\n${script}`,
    "sh",
    ...args,
  ]);
}

/** Why the tool tests cannot run here, or null. */
export function toolsMissing(): string | null {
  for (const t of [
    "bpftool",
    "llvm-objdump",
    "llvm-readelf",
    "ip",
    "xdp-loader",
    "unshare",
    "nsenter",
  ]) {
    if (run("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} is not installed`;
  }
  return null;
}

/** A network namespace holding a veth pair (198.18.0.1/30 ↔ 198.18.0.2/30), deleted by `remove()`. */
export class VethLab {
  readonly ns: string;
  readonly dev = "xdpct0";
  readonly peer = "xdpct1";
  constructor(tag: string) {
    this.ns = `xdpct-${tag}-${process.pid}`;
  }
  get netns(): string {
    return `/run/netns/${this.ns}`;
  }
  /** A command inside the namespace. */
  exec(cmd: string, args: string[]): Run {
    return run("nsenter", [`--net=${this.netns}`, cmd, ...args]);
  }
  create(): void {
    ok(run("ip", ["netns", "add", this.ns]), "ip netns add");
    ok(
      this.exec("ip", ["link", "add", this.dev, "type", "veth", "peer", "name", this.peer]),
      "ip link add veth",
    );
    ok(this.exec("ip", ["addr", "add", "198.18.0.1/30", "dev", this.dev]), "ip addr add");
    ok(this.exec("ip", ["addr", "add", "198.18.0.2/30", "dev", this.peer]), "ip addr add");
    ok(this.exec("ip", ["link", "set", this.dev, "up"]), "ip link set up");
    ok(this.exec("ip", ["link", "set", this.peer, "up"]), "ip link set up");
  }
  /** The XDP program attached to `dev`: { id, name, mode } or null (from `ip -j -d link show`). */
  attached(): { id: number; name: string; mode: string } | null {
    const j = JSON.parse(
      ok(this.exec("ip", ["-j", "-d", "link", "show", "dev", this.dev]), "ip link show").stdout,
    );
    const x = j[0]?.xdp;
    if (!x) return null;
    const prog = x.prog ?? x.attached?.[0]?.prog;
    const modes: Record<number, string> = { 1: "native", 2: "skb", 3: "hw" };
    return prog ? { id: prog.id, name: prog.name, mode: modes[x.mode] ?? String(x.mode) } : null;
  }
  remove(): void {
    if (existsSync(this.netns)) run("ip", ["netns", "del", this.ns]);
  }
}

/**
 * Function headers, instruction rows and relocation rows of an objdump-style listing
 * (no section headers, no source comments), with addresses rebased to each function:
 * `xdpc disasm` numbers every program from 0, as the kernel's verifier log and
 * `bpftool prog dump` do, where llvm-objdump counts from the start of the section.
 * Jump targets are compared as offsets (their `<label>` annotations are stripped).
 */
export function rows(listing: string): string[] {
  const hex16 = (n: number) => n.toString(16).padStart(16, "0");
  let base = 0;
  const out: string[] = [];
  for (const l of listing.split("\n")) {
    const fn = /^([0-9a-f]{16}) <(.+)>:$/.exec(l);
    const insn = /^(\s+)(\d+):\t(.*)$/.exec(l);
    const rel = /^\t\t([0-9a-f]{16}):  (R_BPF.*)$/.exec(l);
    // Local labels (clang's LBB0_4) head no function; xdpc disasm does not print them.
    if (fn && /^(LBB|\.L)/.test(fn[2]!)) continue;
    if (fn) {
      base = parseInt(fn[1]!, 16);
      out.push(`${hex16(0)} <${fn[2]}>:`);
    } else if (insn)
      out.push(stripTargetLabel(`${String(Number(insn[2]) - base / 8).padStart(8)}:\t${insn[3]}`));
    else if (rel) out.push(`\t\t${hex16(parseInt(rel[1]!, 16) - base)}:  ${rel[2]}`);
  }
  return out;
}
