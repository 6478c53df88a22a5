// koffi handles for libbpf.so.1 and libxdp.so.1, opened on first use so that
// importing this module never fails on a machine without them.
import { createRequire } from "node:module";
import { constants } from "node:os";

const require = createRequire(import.meta.url);
type Koffi = typeof import("koffi");

let koffiMod: Koffi | undefined;
export function koffi(): Koffi {
  koffiMod ??= require("koffi") as Koffi;
  return koffiMod;
}

const libs = new Map<string, ReturnType<Koffi["load"]>>();
export function library(
  name: "libbpf.so.1" | "libxdp.so.1" | "libc.so.6",
): ReturnType<Koffi["load"]> {
  let lib = libs.get(name);
  if (!lib) {
    try {
      lib = koffi().load(name);
    } catch (e) {
      throw new NativeError(
        `cannot load ${name} (install the Debian package ${name.startsWith("libbpf") ? "libbpf1" : name.startsWith("libxdp") ? "libxdp1" : "libc6"})`,
        0,
        "load",
      );
    }
    libs.set(name, lib);
  }
  return lib;
}

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n as number, name]),
);

const hints: Record<string, string> = {
  EPERM: "operation not permitted (needs CAP_BPF and CAP_NET_ADMIN, or root)",
  EACCES: "permission denied (the verifier rejected the program, or CAP_BPF is missing)",
  ENOENT: "no such object",
  ENODEV: "no such network interface",
  EINVAL: "invalid argument",
  E2BIG: "too big",
  EBUSY: "device or resource busy (another XDP program is attached)",
  EEXIST: "already exists",
  ENOSPC: "no space left (map full)",
  EOPNOTSUPP: "operation not supported by this driver or kernel",
  ENOTSUPP: "operation not supported by this driver or kernel",
};

/**
 * A failed libbpf/libxdp/syscall call, as fields: the operation (`call`), what was being
 * done (`what`, one line), the errno and its name (`code`), and libbpf's messages about
 * it (`detail`, lines). `message` joins them for people; code reads the fields.
 */
export class NativeError extends Error {
  readonly code: string;
  constructor(
    readonly what: string,
    readonly errno: number,
    readonly call: string,
    readonly detail = "",
  ) {
    const code = errno === 524 ? "ENOTSUPP" : (errnoNames.get(errno) ?? `errno ${errno}`);
    const head = detail ? `${what}:\n${detail}` : what;
    super(errno ? `${head}: ${hints[code] ?? code} [${code}]` : head);
    this.code = code;
    this.name = "NativeError";
  }

  /** The errno's readable reason with its name ("no such object [ENOENT]"), or "". */
  get reason(): string {
    return this.errno ? `${hints[this.code] ?? this.code} [${this.code}]` : "";
  }

  /** One line: what failed, and why when there is no detail ("what:" when there is). */
  get headline(): string {
    if (this.detail) return `${this.what}:`;
    return this.reason ? `${this.what}: ${this.reason}` : this.what;
  }

  /** The detail's lines, the last one followed by the reason (as `message` ends). */
  get detailLines(): string[] {
    if (!this.detail) return [];
    const lines = this.detail.split("\n");
    if (this.reason) lines[lines.length - 1] += `: ${this.reason}`;
    return lines;
  }

  /** The detail and the reason on one line (the whole message when there is no detail). */
  get detailLine(): string {
    return this.detailLines.join(" ").trim() || this.message;
  }
}

/** libbpf 1.x returns -errno (or NULL with errno set); turn that into a NativeError. */
export function check(ret: number, what: string, call: string): number {
  if (ret < 0) throw new NativeError(what, -ret, call);
  return ret;
}

export function lastErrno(): number {
  return koffi().errno();
}
