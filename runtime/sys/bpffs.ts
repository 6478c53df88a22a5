// The BPF filesystem: pins live there. Mounted at /sys/fs/bpf when missing, as
// bpftool and xdp-loader do.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statfsSync } from "node:fs";

export const BPFFS = "/sys/fs/bpf";
/** statfs f_type of bpffs (include/uapi/linux/magic.h BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;

export function isBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Makes sure `path` (a directory at or below a bpffs mount point) is on bpffs,
 * mounting bpffs at /sys/fs/bpf when that is where it should be and nothing is
 * mounted. Returns a notice when it mounted, or an error message.
 */
export function ensureBpffs(
  path: string,
  mountPoint = BPFFS,
): { mounted: boolean; error?: string } {
  let probe = path;
  while (!existsSync(probe) && probe !== "/") probe = probe.replace(/\/[^/]*$/, "") || "/";
  if (isBpffs(probe)) return { mounted: false };
  if (!(path === mountPoint || path.startsWith(mountPoint + "/"))) {
    return {
      mounted: false,
      error: `pin root '${path}' is not on a BPF filesystem (mount -t bpf bpf ${mountPoint})`,
    };
  }
  try {
    mkdirSync(mountPoint, { recursive: true });
    execFileSync("mount", ["-t", "bpf", "bpf", mountPoint], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (e) {
    const msg = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message)
      .trim()
      .split("\n")[0];
    return { mounted: false, error: `cannot mount bpffs at ${mountPoint}: ${msg}` };
  }
  return isBpffs(mountPoint)
    ? { mounted: true }
    : { mounted: false, error: `mounted bpffs at ${mountPoint} but it is not visible` };
}
