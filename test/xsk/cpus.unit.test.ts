// runtime/xsk/cpus.ts (reserveCpus) against a fake of the three affinity operations:
// which threads move off the workers' CPUs and to what, which stay, and that release
// gives every moved thread its own affinity back — exact calls, no kernel.
import { afterEach, describe, expect, it } from "vitest";
import { fakeSys } from "../../native/sys.ts";
import { reserveCpus } from "../../runtime/xsk/cpus.ts";

let restore = () => {};
afterEach(() => restore());

/** Threads (tid → CPUs); a tid missing from the map has exited. Records every set. */
function fake(threads: Record<number, number[]>) {
  const now = new Map(Object.entries(threads).map(([t, c]) => [Number(t), [...c]]));
  const sets: [number, number[]][] = [];
  restore = fakeSys({
    processThreads: () => [...now.keys()],
    taskCpus: (tid: number) => (now.has(tid) ? [...now.get(tid)!] : null),
    setTaskCpus: (tid: number, cpus: readonly number[]) => {
      sets.push([tid, [...cpus]]);
      if (!now.has(tid)) return false;
      now.set(tid, [...cpus]);
      return true;
    },
  });
  return { now, sets };
}

describe("reserveCpus", () => {
  it("moves every thread off the reserved CPUs and gives each its own affinity back", () => {
    const k = fake({ 10: [0, 1, 2, 3], 11: [0, 1, 2, 3], 12: [1, 3] });
    const release = reserveCpus([1, 2]);
    expect(Object.fromEntries(k.now)).toEqual({ 10: [0, 3], 11: [0, 3], 12: [3] });
    release();
    expect(Object.fromEntries(k.now)).toEqual({ 10: [0, 1, 2, 3], 11: [0, 1, 2, 3], 12: [1, 3] });
    // Twice is once.
    const n = k.sets.length;
    release();
    expect(k.sets.length).toBe(n);
  });

  it("leaves threads already off the reserved CPUs, threads kept, and threads with nowhere to go", () => {
    const k = fake({ 10: [0], 11: [0, 1], 12: [1], 13: [0, 1] });
    const release = reserveCpus([1], [13]);
    // 10 is already off CPU 1, 12 may only run there, 13 is kept: only 11 moves.
    expect(k.sets).toEqual([[11, [0]]]);
    release();
    expect(k.sets).toEqual([
      [11, [0]],
      [11, [0, 1]],
    ]);
  });

  it("moves nothing when the workers take every CPU", () => {
    const k = fake({ 10: [0, 1], 11: [0, 1] });
    reserveCpus([0, 1])();
    expect(k.sets).toEqual([]);
  });

  it("skips a thread that exits before its release", () => {
    const k = fake({ 10: [0, 1], 11: [0, 1] });
    const release = reserveCpus([1]);
    k.now.delete(11);
    release();
    expect(Object.fromEntries(k.now)).toEqual({ 10: [0, 1] });
    expect(k.sets).toEqual([
      [10, [0]],
      [11, [0]],
      [10, [0, 1]],
      [11, [0, 1]],
    ]);
  });
});
