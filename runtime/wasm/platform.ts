// What the host needs of the platform it runs on, through web-standard APIs only, so
// that runtime/wasm runs unchanged in Node and in a browser page (the playground):
// hex keys for the map stores, the monotonic clock of bpf_ktime_get_ns and the random
// numbers of bpf_get_prandom_u32.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of the bytes (the map stores' key strings). */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** The bytes of an even-length hex string. */
export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

interface NodeClock {
  hrtime?: { bigint?: () => bigint };
}

/**
 * A monotonic clock in nanoseconds: Node's hrtime where there is one (nanosecond
 * resolution, as the kernel's), else performance.now() (a browser's, coarser).
 */
export const monotonicNs: () => bigint = (() => {
  const hr = (globalThis as { process?: NodeClock }).process?.hrtime;
  if (hr?.bigint) return () => hr.bigint!();
  return () => BigInt(Math.floor(performance.now() * 1e6));
})();

const pool = new Uint32Array(256);
let next = pool.length;

/** A uniformly random u32 from the platform's CSPRNG (drawn 256 at a time). */
export function randomU32(): number {
  if (next === pool.length) {
    crypto.getRandomValues(pool);
    next = 0;
  }
  return pool[next++]!;
}
