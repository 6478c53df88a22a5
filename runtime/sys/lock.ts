// One xdpc load/unload per interface at a time: an flock(2) on a file under the run
// directory. The kernel drops the lock when its holder dies (kill -9 included), so
// a stale lock cannot outlive a crash; the file keeps the holder's pid for messages.
import { closeSync, mkdirSync, openSync, readFileSync, ftruncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { flockExclusive, funlock } from "../../native/flock.ts";

export interface Lock {
  readonly path: string;
  release(): void;
}

export type LockResult = { lock: Lock } | { busy: true; holder?: number };

/** Takes the lock `name` under `dir` without waiting (`busy` when another process holds it). */
export function tryLock(dir: string, name: string): LockResult {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}.lock`);
  const fd = openSync(path, "a+", 0o600);
  let ok = false;
  try {
    ok = flockExclusive(fd, false);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  if (!ok) {
    closeSync(fd);
    let holder: number | undefined;
    try {
      holder = Number.parseInt(readFileSync(path, "utf8"), 10) || undefined;
    } catch {
      // unreadable: no pid in the message
    }
    return { busy: true, holder };
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  let released = false;
  return {
    lock: {
      path,
      release() {
        if (released) return;
        released = true;
        // The file stays: unlinking it would let a third process lock a new inode
        // while a second one still waits on the old one.
        funlock(fd);
        closeSync(fd);
      },
    },
  };
}
