// The one door between xdpc and the kernel: every operation native/ exports that calls
// into C (libbpf, libxdp, libc) is registered here with `sys(name, impl)` and called
// through the function it returns, so a test can put a fake kernel behind all of them
// at once with `fakeSys` (as aya's sys module and cilium/ebpf's internal/sys do). While
// a fake is installed, an operation it does not provide throws instead of reaching the
// real kernel. A new native module registers its operations the same way.

type Op = (...args: any[]) => any;

const registry = new Map<string, Op>();
let fake: Readonly<Record<string, Op>> | null = null;

/** Registers a native operation; call the returned function, never `impl` directly. */
export function sys<F extends Op>(name: string, impl: F): F {
  if (registry.has(name)) throw new Error(`native operation ${name} registered twice`);
  registry.set(name, impl);
  const call = (...args: Parameters<F>): ReturnType<F> => {
    if (!fake) return impl(...args);
    const f = fake[name];
    if (!f) throw new Error(`fake kernel: native operation ${name} is not faked`);
    return f(...args);
  };
  return call as F;
}

/**
 * Puts `ops` (operation name → fake) in front of the kernel until the returned
 * function is called. Names must be registered operations (a typo fails here).
 */
export function fakeSys(ops: Record<string, Op>): () => void {
  for (const name of Object.keys(ops))
    if (!registry.has(name)) throw new Error(`fakeSys: no native operation ${name}`);
  const previous = fake;
  fake = ops;
  return () => {
    fake = previous;
  };
}

/** The registered operations' names (tests check that a fake covers what a module uses). */
export function sysOperations(): string[] {
  return [...registry.keys()].sort();
}
