// The maps of AF_XDP handlers, as WebAssembly: generic functions over a map descriptor
// in the shared memory (abi.ts MAP_DESC), called by every worker at once. They follow
// the kernel's map code (kernel/bpf/arraymap.c, hashtab.c) in semantics and errnos:
//
// - arrays: every index exists (BPF_NOEXIST → EEXIST), out of range → E2BIG on update,
//   delete → EINVAL; per-CPU arrays lay lanes out one after another (lane-major), so a
//   worker's inline lookups index from its own lane's base.
// - hash maps: preallocated elements (max_entries of them, on a free list), buckets =
//   max_entries rounded up to a power of two, each with a spinlock (Wasm atomics) held
//   by lookup, update and delete of that bucket; a new key on a full map → E2BIG, flags
//   checked first (NOEXIST on a present key → EEXIST, EXIST on an absent one → ENOENT,
//   anything above BPF_EXIST → EINVAL). An update of a present key rewrites its value in
//   place. From a handler, a per-CPU update writes the worker's lane (a new key's other
//   lanes are zeroed, as pcpu_init_value does); from the control plane (`all`) every lane.
// - LRU hash maps: a new key takes a free element, or evicts the least recently used
//   element whose "referenced" bit is clear (a lookup sets it; eviction clears it and
//   gives the element a second chance), as the kernel's LRU lists do; they never
//   fail with E2BIG. Lock order: bucket → LRU list → free list; eviction holds the LRU
//   list and only try-locks the victim's bucket, so it never waits in the wrong order.
// - LPM tries: compiler/wasm/lpm.ts (each public function hands their descriptors on).
//
// As with the kernel's preallocated maps, a value pointer a handler holds stays valid
// memory, but may be reused for another key once its element is deleted or evicted.
import binaryen from "binaryen";
import { emitLpmRuntime, LPM } from "./lpm.ts";
import {
  ELEM,
  KIND_LPM_TRIE,
  KIND_LRU_HASH,
  KIND_LRU_PERCPU_HASH,
  KIND_PERCPU_ARRAY,
  KIND_PERCPU_HASH,
  MAP_DESC,
  MAP_FN,
  MEMORY_MODULE,
  MEMORY_NAME,
} from "./abi.ts";

type Ref = binaryen.ExpressionRef;

const EINVAL = 22n;
const ENOENT = 2n;
const EEXIST = 17n;
const E2BIG = 7n;
const ENOMEM = 12n;

const i32 = binaryen.i32;
const i64 = binaryen.i64;

/** Internal names of the helpers. */
const F = {
  lock: "xdpc_m_lock",
  unlock: "xdpc_m_unlock",
  hash: "xdpc_m_hash",
  keyeq: "xdpc_m_keyeq",
  find: "xdpc_m_find",
  freePop: "xdpc_m_free_pop",
  freePush: "xdpc_m_free_push",
  lruUnlink: "xdpc_m_lru_unlink",
  lruPush: "xdpc_m_lru_push",
  lruAlloc: "xdpc_m_lru_alloc",
  writeValue: "xdpc_m_write_value",
};

class Fn {
  readonly vars: binaryen.Type[] = [];
  constructor(
    readonly m: binaryen.Module,
    readonly nparams: number,
  ) {}
  local(t: binaryen.Type = i32): number {
    this.vars.push(t);
    return this.nparams + this.vars.length - 1;
  }
}

/** Adds the map functions to `mod` (once); `exported`: also export the public ones. */
export function emitMapRuntime(mod: binaryen.Module, exported = true): void {
  if (mod.getFunction(MAP_FN.lookup)) return;
  const m = mod;
  const c = (x: number) => m.i32.const(x | 0);
  const c64 = (x: bigint) => (m.i64.const as unknown as (v: bigint) => Ref)(BigInt.asIntN(64, x));
  const g = (i: number) => m.local.get(i, i32);
  const g64 = (i: number) => m.local.get(i, i64);
  const s = (i: number, e: Ref) => m.local.set(i, e);
  const ld = (p: Ref, off = 0) => m.i32.load(off, 4, p);
  const st = (p: Ref, off: number, v: Ref) => m.i32.store(off, 4, p, v);
  const desc = (d: number, field: number) => ld(g(d), field);
  const add = (a: Ref, b: Ref) => m.i32.add(a, b);
  const mul = (a: Ref, b: Ref) => m.i32.mul(a, b);
  const block = (...e: Ref[]) => m.block(null, e, binaryen.none);
  const ret = (e?: Ref) => m.return(e);
  let label = 0;
  /** while (cond) body — `cond` and `body` rebuilt by callers per use. */
  const whileLoop = (cond: Ref, body: Ref[]): Ref => {
    const l = `L${label++}`;
    const out = `B${label++}`;
    return m.block(out, [m.loop(l, block(m.br(out, m.i32.eqz(cond)), ...body, m.br(l)))]);
  };
  const isPerCpu = (kind: Ref, kind2: Ref, kind3: Ref) =>
    m.i32.or(
      m.i32.eq(kind, c(KIND_PERCPU_ARRAY)),
      m.i32.or(m.i32.eq(kind2, c(KIND_PERCPU_HASH)), m.i32.eq(kind3, c(KIND_LRU_PERCPU_HASH))),
    );
  const isLru = (kind: Ref) => m.i32.ge_u(kind, c(KIND_LRU_HASH));
  const isArray = (kind: Ref) => m.i32.le_u(kind, c(KIND_PERCPU_ARRAY));
  const add32 = (name: string, params: binaryen.Type[], result: binaryen.Type, f: Fn, body: Ref) =>
    m.addFunction(name, binaryen.createType(params), result, f.vars, body);

  // lock(p): spin on compare-and-swap 0 → 1; unlock(p): store 0.
  {
    const f = new Fn(m, 1);
    const l = "spin";
    add32(
      F.lock,
      [i32],
      binaryen.none,
      f,
      m.loop(l, m.br(l, m.i32.atomic.rmw.cmpxchg(0, g(0), c(0), c(1)))),
    );
    const u = new Fn(m, 1);
    add32(F.unlock, [i32], binaryen.none, u, m.i32.atomic.store(0, g(0), c(0)));
  }
  const lock = (p: Ref) => m.call(F.lock, [p], binaryen.none);
  const unlock = (p: Ref) => m.call(F.unlock, [p], binaryen.none);
  const trylock = (p: Ref) => m.i32.eqz(m.i32.atomic.rmw.cmpxchg(0, p, c(0), c(1)));
  emitLpmRuntime(m, F.lock, F.unlock);
  /** An LpmTrie descriptor goes to compiler/wasm/lpm.ts's function instead. */
  const toLpm = (D: number, fn: string, args: Ref[], rt: binaryen.Type) =>
    m.if(m.i32.eq(desc(D, MAP_DESC.kind), c(KIND_LPM_TRIE)), ret(m.call(fn, args, rt)));

  // hash(p, n): murmur3's 32-bit mixing over 4-byte words, then the tail bytes.
  {
    const f = new Fn(m, 2);
    const [P, N] = [0, 1];
    const h = f.local(),
      i = f.local(),
      k = f.local();
    add32(
      F.hash,
      [i32, i32],
      i32,
      f,
      m.block(
        null,
        [
          s(h, m.i32.xor(c(0x9747b28c), g(N))),
          s(i, c(0)),
          whileLoop(m.i32.le_u(add(g(i), c(4)), g(N)), [
            s(k, mul(ld(add(g(P), g(i))), c(0xcc9e2d51))),
            s(k, mul(m.i32.rotl(g(k), c(15)), c(0x1b873593))),
            s(h, m.i32.rotl(m.i32.xor(g(h), g(k)), c(13))),
            s(h, add(mul(g(h), c(5)), c(0xe6546b64))),
            s(i, add(g(i), c(4))),
          ]),
          whileLoop(m.i32.lt_u(g(i), g(N)), [
            s(h, mul(m.i32.xor(g(h), m.i32.load8_u(0, 1, add(g(P), g(i)))), c(0x01000193))),
            s(i, add(g(i), c(1))),
          ]),
          s(h, m.i32.xor(g(h), m.i32.shr_u(g(h), c(16)))),
          s(h, mul(g(h), c(0x85ebca6b))),
          s(h, m.i32.xor(g(h), m.i32.shr_u(g(h), c(13)))),
          s(h, mul(g(h), c(0xc2b2ae35))),
          m.i32.xor(g(h), m.i32.shr_u(g(h), c(16))),
        ],
        i32,
      ),
    );
  }
  const hash = (p: Ref, n: Ref) => m.call(F.hash, [p, n], i32);

  // keyeq(a, b, n) → 1 when the n bytes are equal.
  {
    const f = new Fn(m, 3);
    const [A, B, N] = [0, 1, 2];
    const i = f.local();
    add32(
      F.keyeq,
      [i32, i32, i32],
      i32,
      f,
      m.block(
        null,
        [
          s(i, c(0)),
          whileLoop(m.i32.le_u(add(g(i), c(4)), g(N)), [
            m.if(m.i32.ne(ld(add(g(A), g(i))), ld(add(g(B), g(i)))), ret(c(0))),
            s(i, add(g(i), c(4))),
          ]),
          whileLoop(m.i32.lt_u(g(i), g(N)), [
            m.if(
              m.i32.ne(m.i32.load8_u(0, 1, add(g(A), g(i))), m.i32.load8_u(0, 1, add(g(B), g(i)))),
              ret(c(0)),
            ),
            s(i, add(g(i), c(1))),
          ]),
          c(1),
        ],
        i32,
      ),
    );
  }

  // find(d, bucket, key, h) → element or 0 (the bucket's lock is held).
  {
    const f = new Fn(m, 4);
    const [D, BK, KEY, H] = [0, 1, 2, 3];
    const e = f.local();
    add32(
      F.find,
      [i32, i32, i32, i32],
      i32,
      f,
      m.block(
        null,
        [
          s(e, ld(g(BK), 4)),
          whileLoop(g(e), [
            m.if(
              m.i32.and(
                m.i32.eq(ld(g(e), ELEM.hash), g(H)),
                m.call(F.keyeq, [add(g(e), c(ELEM.key)), g(KEY), desc(D, MAP_DESC.keySize)], i32),
              ),
              ret(g(e)),
            ),
            s(e, ld(g(e), ELEM.next)),
          ]),
          c(0),
        ],
        i32,
      ),
    );
  }
  const find = (d: Ref, b: Ref, key: Ref, h: Ref) => m.call(F.find, [d, b, key, h], i32);

  // Free list: pop (0 when empty) and push, under the descriptor's free lock.
  {
    const f = new Fn(m, 1);
    const e = f.local();
    add32(
      F.freePop,
      [i32],
      i32,
      f,
      m.block(
        null,
        [
          lock(add(g(0), c(MAP_DESC.freeLock))),
          s(e, desc(0, MAP_DESC.freeHead)),
          m.if(g(e), st(g(0), MAP_DESC.freeHead, ld(g(e), ELEM.next))),
          unlock(add(g(0), c(MAP_DESC.freeLock))),
          g(e),
        ],
        i32,
      ),
    );
    const p = new Fn(m, 2);
    add32(
      F.freePush,
      [i32, i32],
      binaryen.none,
      p,
      block(
        lock(add(g(0), c(MAP_DESC.freeLock))),
        st(g(1), ELEM.next, desc(0, MAP_DESC.freeHead)),
        st(g(0), MAP_DESC.freeHead, g(1)),
        unlock(add(g(0), c(MAP_DESC.freeLock))),
      ),
    );
  }
  const freePop = (d: Ref) => m.call(F.freePop, [d], i32);
  const freePush = (d: Ref, e: Ref) => m.call(F.freePush, [d, e], binaryen.none);

  // LRU list (the LRU lock is held): unlink(d, e), push(d, e) at the head (most recent).
  {
    const f = new Fn(m, 2);
    const [D, E] = [0, 1];
    const p = f.local(),
      n = f.local();
    add32(
      F.lruUnlink,
      [i32, i32],
      binaryen.none,
      f,
      block(
        s(p, ld(g(E), ELEM.lruPrev)),
        s(n, ld(g(E), ELEM.lruNext)),
        m.if(g(p), st(g(p), ELEM.lruNext, g(n)), st(g(D), MAP_DESC.lruHead, g(n))),
        m.if(g(n), st(g(n), ELEM.lruPrev, g(p)), st(g(D), MAP_DESC.lruTail, g(p))),
      ),
    );
    const q = new Fn(m, 2);
    const h = q.local();
    add32(
      F.lruPush,
      [i32, i32],
      binaryen.none,
      q,
      block(
        s(h, ld(g(D), MAP_DESC.lruHead)),
        st(g(E), ELEM.lruPrev, c(0)),
        st(g(E), ELEM.lruNext, g(h)),
        m.if(g(h), st(g(h), ELEM.lruPrev, g(E)), st(g(D), MAP_DESC.lruTail, g(E))),
        st(g(D), MAP_DESC.lruHead, g(E)),
      ),
    );
  }
  const lruUnlink = (d: Ref, e: Ref) => m.call(F.lruUnlink, [d, e], binaryen.none);
  const lruPush = (d: Ref, e: Ref) => m.call(F.lruPush, [d, e], binaryen.none);

  // lru_alloc(d) → a free element, else the least recently used unreferenced one,
  // unlinked from its bucket and the LRU list; 0 when every candidate stayed locked.
  {
    const f = new Fn(m, 1);
    const D = 0;
    const e = f.local(),
      prev = f.local(),
      tries = f.local(),
      vb = f.local(),
      pp = f.local(),
      x = f.local();
    const lruLock = () => add(g(D), c(MAP_DESC.lruLock));
    add32(
      F.lruAlloc,
      [i32],
      i32,
      f,
      m.block(
        null,
        [
          s(e, freePop(g(D))),
          m.if(g(e), ret(g(e))),
          lock(lruLock()),
          s(tries, add(mul(desc(D, MAP_DESC.maxEntries), c(2)), c(2))),
          s(e, desc(D, MAP_DESC.lruTail)),
          whileLoop(m.i32.and(m.i32.ne(g(e), c(0)), m.i32.gt_u(g(tries), c(0))), [
            s(tries, m.i32.sub(g(tries), c(1))),
            s(prev, ld(g(e), ELEM.lruPrev)),
            m.if(
              m.i32.load8_u(ELEM.ref, 1, g(e)),
              // Referenced since it last moved: a second chance at the head.
              block(
                m.i32.store8(ELEM.ref, 1, g(e), c(0)),
                lruUnlink(g(D), g(e)),
                lruPush(g(D), g(e)),
              ),
              block(
                s(
                  vb,
                  add(
                    desc(D, MAP_DESC.buckets),
                    m.i32.shl(m.i32.and(ld(g(e), ELEM.hash), desc(D, MAP_DESC.mask)), c(3)),
                  ),
                ),
                m.if(
                  trylock(g(vb)),
                  block(
                    // Unlink from the bucket's chain (next is at offset 0: pp walks the links).
                    s(pp, add(g(vb), c(4))),
                    s(x, ld(g(pp))),
                    whileLoop(m.i32.and(m.i32.ne(g(x), c(0)), m.i32.ne(g(x), g(e))), [
                      s(pp, g(x)),
                      s(x, ld(g(x), ELEM.next)),
                    ]),
                    m.if(g(x), st(g(pp), 0, ld(g(e), ELEM.next))),
                    unlock(g(vb)),
                    lruUnlink(g(D), g(e)),
                    unlock(lruLock()),
                    ret(g(e)),
                  ),
                ),
              ),
            ),
            s(e, m.select(g(prev), g(prev), desc(D, MAP_DESC.lruTail))),
          ]),
          unlock(lruLock()),
          c(0),
        ],
        i32,
      ),
    );
  }

  // write_value(d, e, value, lane, all, fresh): the element's value(s) from `value`.
  // all: every lane from `value` (lanes × stride); else lane `lane` only, and when the
  // element is fresh the other lanes are zeroed.
  {
    const f = new Fn(m, 6);
    const [D, E, V, LANE, ALL, FRESH] = [0, 1, 2, 3, 4, 5];
    const base = f.local(),
      stride = f.local(),
      lanes = f.local(),
      l = f.local();
    add32(
      F.writeValue,
      [i32, i32, i32, i32, i32, i32],
      binaryen.none,
      f,
      block(
        s(base, add(g(E), add(c(ELEM.key), desc(D, MAP_DESC.keyStride)))),
        s(stride, desc(D, MAP_DESC.stride)),
        s(lanes, desc(D, MAP_DESC.lanes)),
        m.if(
          g(ALL),
          block(
            s(l, c(0)),
            whileLoop(m.i32.lt_u(g(l), g(lanes)), [
              m.memory.copy(
                add(g(base), mul(g(l), g(stride))),
                add(g(V), mul(g(l), g(stride))),
                desc(D, MAP_DESC.valueSize),
              ),
              s(l, add(g(l), c(1))),
            ]),
          ),
          block(
            m.if(g(FRESH), m.memory.fill(g(base), c(0), mul(g(lanes), g(stride)))),
            m.memory.copy(
              add(g(base), mul(m.select(m.i32.gt_u(g(lanes), c(1)), g(LANE), c(0)), g(stride))),
              g(V),
              desc(D, MAP_DESC.valueSize),
            ),
          ),
        ),
      ),
    );
  }
  const writeValue = (d: Ref, e: Ref, v: Ref, lane: Ref, all: Ref, fresh: Ref) =>
    m.call(F.writeValue, [d, e, v, lane, all, fresh], binaryen.none);

  const bucketOf = (D: number, h: number) =>
    add(desc(D, MAP_DESC.buckets), m.i32.shl(m.i32.and(g(h), desc(D, MAP_DESC.mask)), c(3)));
  const valueOf = (D: number, e: Ref) => add(e, add(c(ELEM.key), desc(D, MAP_DESC.keyStride)));

  // lookup(d, key, lane) → value address or 0.
  {
    const f = new Fn(m, 3);
    const [D, KEY, LANE] = [0, 1, 2];
    const kind = f.local(),
      idx = f.local(),
      h = f.local(),
      b = f.local(),
      e = f.local();
    add32(
      MAP_FN.lookup,
      [i32, i32, i32],
      i32,
      f,
      m.block(
        null,
        [
          toLpm(D, LPM.lookup, [g(D), g(KEY)], i32),
          s(kind, desc(D, MAP_DESC.kind)),
          m.if(
            isArray(g(kind)),
            block(
              s(idx, ld(g(KEY))),
              m.if(m.i32.ge_u(g(idx), desc(D, MAP_DESC.maxEntries)), ret(c(0))),
              m.if(
                m.i32.eq(g(kind), c(KIND_PERCPU_ARRAY)),
                s(idx, add(g(idx), mul(g(LANE), desc(D, MAP_DESC.maxEntries)))),
              ),
              ret(add(desc(D, MAP_DESC.elems), mul(g(idx), desc(D, MAP_DESC.stride)))),
            ),
          ),
          s(h, hash(g(KEY), desc(D, MAP_DESC.keySize))),
          s(b, bucketOf(D, h)),
          lock(g(b)),
          s(e, find(g(D), g(b), g(KEY), g(h))),
          unlock(g(b)),
          m.if(m.i32.eqz(g(e)), ret(c(0))),
          m.if(isLru(g(kind)), m.i32.store8(ELEM.ref, 1, g(e), c(1))),
          add(
            valueOf(D, g(e)),
            m.select(
              isPerCpu(g(kind), g(kind), g(kind)),
              mul(g(LANE), desc(D, MAP_DESC.stride)),
              c(0),
            ),
          ),
        ],
        i32,
      ),
    );
  }

  // update(d, key, value, flags, lane, all) → 0 or −errno.
  {
    const f = new Fn(m, 6);
    const [D, KEY, V, FLAGS, LANE, ALL] = [0, 1, 2, 3, 4, 5];
    const kind = f.local(),
      idx = f.local(),
      h = f.local(),
      b = f.local(),
      e = f.local(),
      fresh = f.local(),
      l = f.local(),
      stride = f.local(),
      r = f.local(i64);
    const flagsIs = (x: bigint) => m.i64.eq(g64(FLAGS), c64(x));
    // The flag checks against a found (or absent) element; sets r and leaves the block.
    const out = "out";
    add32(
      MAP_FN.update,
      [i32, i32, i32, i64, i32, i32],
      i64,
      f,
      m.block(
        null,
        [
          toLpm(D, LPM.update, [g(D), g(KEY), g(V), g64(FLAGS)], i64),
          m.if(m.i64.gt_u(g64(FLAGS), c64(2n)), ret(c64(-EINVAL))),
          s(kind, desc(D, MAP_DESC.kind)),
          m.if(
            isArray(g(kind)),
            block(
              s(idx, ld(g(KEY))),
              m.if(m.i32.ge_u(g(idx), desc(D, MAP_DESC.maxEntries)), ret(c64(-E2BIG))),
              m.if(flagsIs(1n), ret(c64(-EEXIST))),
              s(stride, desc(D, MAP_DESC.stride)),
              m.if(
                m.i32.eq(g(kind), c(KIND_PERCPU_ARRAY)),
                m.if(
                  g(ALL),
                  block(
                    s(l, c(0)),
                    whileLoop(m.i32.lt_u(g(l), desc(D, MAP_DESC.lanes)), [
                      m.memory.copy(
                        add(
                          desc(D, MAP_DESC.elems),
                          mul(add(g(idx), mul(g(l), desc(D, MAP_DESC.maxEntries))), g(stride)),
                        ),
                        add(g(V), mul(g(l), g(stride))),
                        desc(D, MAP_DESC.valueSize),
                      ),
                      s(l, add(g(l), c(1))),
                    ]),
                  ),
                  m.memory.copy(
                    add(
                      desc(D, MAP_DESC.elems),
                      mul(add(g(idx), mul(g(LANE), desc(D, MAP_DESC.maxEntries))), g(stride)),
                    ),
                    g(V),
                    desc(D, MAP_DESC.valueSize),
                  ),
                ),
                m.memory.copy(
                  add(desc(D, MAP_DESC.elems), mul(g(idx), g(stride))),
                  g(V),
                  desc(D, MAP_DESC.valueSize),
                ),
              ),
              ret(c64(0n)),
            ),
          ),
          s(h, hash(g(KEY), desc(D, MAP_DESC.keySize))),
          s(b, bucketOf(D, h)),
          s(fresh, c(0)),
          m.block(out, [
            lock(g(b)),
            s(e, find(g(D), g(b), g(KEY), g(h))),
            // An LRU map takes its new element outside the bucket's lock (eviction locks
            // other buckets), then looks again.
            m.if(
              m.i32.and(m.i32.eqz(g(e)), isLru(g(kind))),
              m.if(
                m.i32.eqz(flagsIs(2n)),
                block(
                  unlock(g(b)),
                  s(fresh, m.call(F.lruAlloc, [g(D)], i32)),
                  lock(g(b)),
                  s(e, find(g(D), g(b), g(KEY), g(h))),
                  m.if(
                    m.i32.and(m.i32.eqz(g(e)), m.i32.eqz(g(fresh))),
                    block(s(r, c64(-ENOMEM)), m.br(out)),
                  ),
                ),
              ),
            ),
            m.if(
              m.i32.and(m.i32.ne(g(e), c(0)), flagsIs(1n)),
              block(s(r, c64(-EEXIST)), m.br(out)),
            ),
            m.if(m.i32.and(m.i32.eqz(g(e)), flagsIs(2n)), block(s(r, c64(-ENOENT)), m.br(out))),
            m.if(
              g(e),
              block(
                writeValue(g(D), g(e), g(V), g(LANE), g(ALL), c(0)),
                m.if(isLru(g(kind)), m.i32.store8(ELEM.ref, 1, g(e), c(1))),
                s(r, c64(0n)),
                m.br(out),
              ),
            ),
            m.if(
              m.i32.eqz(isLru(g(kind))),
              block(
                s(fresh, freePop(g(D))),
                m.if(m.i32.eqz(g(fresh)), block(s(r, c64(-E2BIG)), m.br(out))),
              ),
            ),
            st(g(fresh), ELEM.hash, g(h)),
            m.i32.store8(ELEM.ref, 1, g(fresh), c(0)),
            m.memory.fill(add(g(fresh), c(ELEM.key)), c(0), desc(D, MAP_DESC.keyStride)),
            m.memory.copy(add(g(fresh), c(ELEM.key)), g(KEY), desc(D, MAP_DESC.keySize)),
            writeValue(g(D), g(fresh), g(V), g(LANE), g(ALL), c(1)),
            st(g(fresh), ELEM.next, ld(g(b), 4)),
            // Published whole: lookups of this bucket hold its lock.
            st(g(b), 4, g(fresh)),
            m.if(
              isLru(g(kind)),
              block(
                lock(add(g(D), c(MAP_DESC.lruLock))),
                lruPush(g(D), g(fresh)),
                unlock(add(g(D), c(MAP_DESC.lruLock))),
              ),
            ),
            s(fresh, c(0)),
            s(r, c64(0n)),
          ]),
          unlock(g(b)),
          m.if(g(fresh), freePush(g(D), g(fresh))),
          g64(r),
        ],
        i64,
      ),
    );
  }

  // delete(d, key) → 0, −ENOENT, or −EINVAL for arrays.
  {
    const f = new Fn(m, 2);
    const [D, KEY] = [0, 1];
    const h = f.local(),
      b = f.local(),
      pp = f.local(),
      e = f.local();
    add32(
      MAP_FN.delete,
      [i32, i32],
      i64,
      f,
      m.block(
        null,
        [
          toLpm(D, LPM.delete, [g(D), g(KEY)], i64),
          m.if(isArray(desc(D, MAP_DESC.kind)), ret(c64(-EINVAL))),
          s(h, hash(g(KEY), desc(D, MAP_DESC.keySize))),
          s(b, bucketOf(D, h)),
          lock(g(b)),
          s(pp, add(g(b), c(4))),
          s(e, ld(g(pp))),
          whileLoop(g(e), [
            m.if(
              m.i32.and(
                m.i32.eq(ld(g(e), ELEM.hash), g(h)),
                m.call(F.keyeq, [add(g(e), c(ELEM.key)), g(KEY), desc(D, MAP_DESC.keySize)], i32),
              ),
              block(
                st(g(pp), 0, ld(g(e), ELEM.next)),
                m.if(
                  isLru(desc(D, MAP_DESC.kind)),
                  block(
                    lock(add(g(D), c(MAP_DESC.lruLock))),
                    lruUnlink(g(D), g(e)),
                    unlock(add(g(D), c(MAP_DESC.lruLock))),
                  ),
                ),
                unlock(g(b)),
                freePush(g(D), g(e)),
                ret(c64(0n)),
              ),
            ),
            s(pp, g(e)),
            s(e, ld(g(e), ELEM.next)),
          ]),
          unlock(g(b)),
          c64(-ENOENT),
        ],
        i64,
      ),
    );
  }

  // next_key(d, key, out): the kernel's order — the rest of key's bucket chain, then
  // the next buckets; an absent (or null) key restarts from the first bucket.
  {
    const f = new Fn(m, 3);
    const [D, KEY, OUT] = [0, 1, 2];
    const idx = f.local(),
      h = f.local(),
      b = f.local(),
      e = f.local(),
      i = f.local(),
      nb = f.local();
    const copyKey = (x: Ref) =>
      m.memory.copy(g(OUT), add(x, c(ELEM.key)), desc(D, MAP_DESC.keySize));
    add32(
      MAP_FN.nextKey,
      [i32, i32, i32],
      i64,
      f,
      m.block(
        null,
        [
          toLpm(D, LPM.nextKey, [g(D), g(KEY), g(OUT)], i64),
          m.if(
            isArray(desc(D, MAP_DESC.kind)),
            block(
              m.if(m.i32.eqz(desc(D, MAP_DESC.maxEntries)), ret(c64(-ENOENT))),
              s(idx, m.select(g(KEY), ld(g(KEY)), c(-1))),
              m.if(
                m.i32.ge_u(g(idx), desc(D, MAP_DESC.maxEntries)),
                block(st(g(OUT), 0, c(0)), ret(c64(0n))),
              ),
              m.if(m.i32.eq(add(g(idx), c(1)), desc(D, MAP_DESC.maxEntries)), ret(c64(-ENOENT))),
              st(g(OUT), 0, add(g(idx), c(1))),
              ret(c64(0n)),
            ),
          ),
          s(i, c(0)),
          m.if(
            g(KEY),
            block(
              s(h, hash(g(KEY), desc(D, MAP_DESC.keySize))),
              s(b, bucketOf(D, h)),
              lock(g(b)),
              s(e, find(g(D), g(b), g(KEY), g(h))),
              m.if(
                g(e),
                block(
                  s(e, ld(g(e), ELEM.next)),
                  m.if(g(e), block(copyKey(g(e)), unlock(g(b)), ret(c64(0n)))),
                  s(i, add(m.i32.and(g(h), desc(D, MAP_DESC.mask)), c(1))),
                ),
              ),
              unlock(g(b)),
            ),
          ),
          s(nb, add(desc(D, MAP_DESC.mask), c(1))),
          whileLoop(m.i32.lt_u(g(i), g(nb)), [
            s(b, add(desc(D, MAP_DESC.buckets), m.i32.shl(g(i), c(3)))),
            lock(g(b)),
            s(e, ld(g(b), 4)),
            m.if(g(e), block(copyKey(g(e)), unlock(g(b)), ret(c64(0n)))),
            unlock(g(b)),
            s(i, add(g(i), c(1))),
          ]),
          c64(-ENOENT),
        ],
        i64,
      ),
    );
  }

  // lookup_copy(d, key, out): every lane's value, copied under the bucket's lock.
  {
    const f = new Fn(m, 3);
    const [D, KEY, OUT] = [0, 1, 2];
    const h = f.local(),
      b = f.local(),
      e = f.local(),
      kind = f.local(),
      l = f.local(),
      p = f.local();
    add32(
      MAP_FN.lookupCopy,
      [i32, i32, i32],
      i64,
      f,
      m.block(
        null,
        [
          toLpm(D, LPM.lookupCopy, [g(D), g(KEY), g(OUT)], i64),
          s(kind, desc(D, MAP_DESC.kind)),
          m.if(
            isArray(g(kind)),
            block(
              s(l, c(0)),
              whileLoop(m.i32.lt_u(g(l), desc(D, MAP_DESC.lanes)), [
                s(p, m.call(MAP_FN.lookup, [g(D), g(KEY), g(l)], i32)),
                m.if(m.i32.eqz(g(p)), ret(c64(-ENOENT))),
                m.memory.copy(
                  add(g(OUT), mul(g(l), desc(D, MAP_DESC.stride))),
                  g(p),
                  desc(D, MAP_DESC.stride),
                ),
                s(l, add(g(l), c(1))),
              ]),
              ret(c64(0n)),
            ),
          ),
          s(h, hash(g(KEY), desc(D, MAP_DESC.keySize))),
          s(b, bucketOf(D, h)),
          lock(g(b)),
          s(e, find(g(D), g(b), g(KEY), g(h))),
          m.if(
            g(e),
            m.memory.copy(
              g(OUT),
              valueOf(D, g(e)),
              mul(desc(D, MAP_DESC.lanes), desc(D, MAP_DESC.stride)),
            ),
          ),
          unlock(g(b)),
          m.select(g(e), c64(0n), c64(-ENOENT)),
        ],
        i64,
      ),
    );
  }

  if (exported) for (const name of Object.values(MAP_FN)) m.addFunctionExport(name, name);
}

let standalone: Uint8Array | undefined;

/**
 * A module of the map functions alone over an imported shared memory: what the control
 * plane (runtime/xsk/maps.ts) and the tests call to reach the maps workers use.
 */
export function mapRuntimeModule(features: number): Uint8Array {
  if (standalone) return standalone;
  const mod = new binaryen.Module();
  try {
    mod.setFeatures(features);
    mod.setMemory(1, 65536, null, [], true);
    mod.addMemoryImport("0", MEMORY_MODULE, MEMORY_NAME, true);
    emitMapRuntime(mod, true);
    if (!mod.validate()) throw new Error("binaryen rejected the map module");
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    mod.optimize();
    standalone = mod.emitBinary();
    return standalone;
  } finally {
    mod.dispose();
  }
}
