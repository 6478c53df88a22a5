// LpmTrie maps of AF_XDP handlers, as WebAssembly: the kernel's semantics and errnos
// (kernel/bpf/lpm_trie.c) over a flat table of max_entries elements under one lock
// (the descriptor's free lock; the entry count in its freeHead word). An element is in
// use when its word 0 is non-zero; its key is `prefixlen: u32` then the data bytes, as
// given (bits past the prefix kept, as the kernel keeps them).
//
// - lookup: the entry with the longest prefix ≤ the key's prefixlen whose first
//   prefixlen bits equal the key's (a key with prefixlen > max_prefixlen finds nothing);
// - update: flags > BPF_EXIST or prefixlen > max_prefixlen → EINVAL; an entry with the
//   same prefixlen and prefix is replaced (NOEXIST → EEXIST), else EXIST → ENOENT, a
//   full table → ENOSPC;
// - delete: EINVAL past max_prefixlen, ENOENT without an exact entry;
// - next_key: the kernel trie's postorder — an entry's more specific entries before it,
//   and where two diverge, the one with bit 0 first — which depends only on the
//   entries, not on the trie's shape; an absent (or invalid, or null) key gives the first.
// Each operation scans the table (O(max_entries)): meant for the small tables of
// handlers; the kernel's trie walks the prefix bits instead.
import binaryen from "binaryen";
import { ELEM, MAP_DESC } from "./abi.ts";

type Ref = binaryen.ExpressionRef;
const i32 = binaryen.i32;
const i64 = binaryen.i64;

/** Internal names of the LPM functions (called from the map code's dispatch). */
export const LPM = {
  lookup: "xdpc_lpm_lookup",
  update: "xdpc_lpm_update",
  delete: "xdpc_lpm_delete",
  nextKey: "xdpc_lpm_next_key",
  lookupCopy: "xdpc_lpm_lookup_copy",
  match: "xdpc_lpm_match",
  best: "xdpc_lpm_best",
  exact: "xdpc_lpm_exact",
  before: "xdpc_lpm_before",
} as const;

const EINVAL = 22n;
const ENOENT = 2n;
const EEXIST = 17n;
const ENOSPC = 28n;

/** Adds the LPM functions; `lock`/`unlock` are the map code's spinlock functions. */
export function emitLpmRuntime(m: binaryen.Module, lock: string, unlock: string): void {
  const c = (x: number) => m.i32.const(x | 0);
  const c64 = (x: bigint) => (m.i64.const as unknown as (v: bigint) => Ref)(BigInt.asIntN(64, x));
  const g = (i: number) => m.local.get(i, i32);
  const s = (i: number, e: Ref) => m.local.set(i, e);
  const ld = (p: Ref, off = 0) => m.i32.load(off, 4, p);
  const st = (p: Ref, off: number, v: Ref) => m.i32.store(off, 4, p, v);
  const add = (a: Ref, b: Ref) => m.i32.add(a, b);
  const mul = (a: Ref, b: Ref) => m.i32.mul(a, b);
  const block = (...e: Ref[]) => m.block(null, e, binaryen.none);
  const ret = (e?: Ref) => m.return(e);
  const desc = (d: number, f: number) => ld(g(d), f);
  const min = (a: () => Ref, b: () => Ref) => m.select(m.i32.lt_u(a(), b()), a(), b());
  let label = 0;
  const whileLoop = (cond: Ref, body: Ref[]): Ref => {
    const l = `LL${label++}`;
    const out = `LB${label++}`;
    return m.block(out, [m.loop(l, block(m.br(out, m.i32.eqz(cond)), ...body, m.br(l)))]);
  };
  const fn = (
    name: string,
    params: binaryen.Type[],
    result: binaryen.Type,
    locals: number,
    body: (v: number) => Ref,
  ) => {
    const vars = Array.from({ length: locals }, () => i32);
    m.addFunction(name, binaryen.createType(params), result, vars, body(params.length));
  };
  const mapLock = (d: number) => add(g(d), c(MAP_DESC.freeLock));
  const dataBytes = (d: number) => m.i32.sub(desc(d, MAP_DESC.keySize), c(4));
  const maxPrefix = (d: number) => m.i32.shl(dataBytes(d), c(3));
  const keyOf = (e: Ref) => add(e, c(ELEM.key));
  const valueOf = (d: number, e: Ref) => add(e, add(c(ELEM.key), desc(d, MAP_DESC.keyStride)));
  /** for each element e of map d: body (e in local E, index in local I). */
  const eachElem = (d: number, I: number, E: number, body: Ref[]) =>
    block(
      s(I, c(0)),
      whileLoop(m.i32.lt_u(g(I), desc(d, MAP_DESC.maxEntries)), [
        s(E, add(desc(d, MAP_DESC.elems), mul(g(I), desc(d, MAP_DESC.elemSize)))),
        ...body,
        s(I, add(g(I), c(1))),
      ]),
    );

  // match(a, b, n) → leading equal bits of two keys' data (n bytes), at most min(prefixlens).
  fn(LPM.match, [i32, i32, i32], i32, 3, (v) => {
    const [A, B, N] = [0, 1, 2];
    const [lim, i, x] = [v, v + 1, v + 2];
    return m.block(
      null,
      [
        s(
          lim,
          min(
            () => ld(g(A)),
            () => ld(g(B)),
          ),
        ),
        s(i, c(0)),
        whileLoop(m.i32.and(m.i32.lt_u(g(i), g(N)), m.i32.lt_u(m.i32.shl(g(i), c(3)), g(lim))), [
          s(
            x,
            m.i32.xor(m.i32.load8_u(4, 1, add(g(A), g(i))), m.i32.load8_u(4, 1, add(g(B), g(i)))),
          ),
          m.if(
            g(x),
            block(
              s(x, add(m.i32.shl(g(i), c(3)), m.i32.sub(m.i32.clz(g(x)), c(24)))),
              ret(
                min(
                  () => g(x),
                  () => g(lim),
                ),
              ),
            ),
          ),
          s(i, add(g(i), c(1))),
        ]),
        g(lim),
      ],
      i32,
    );
  });
  const match = (a: Ref, b: Ref, n: Ref) => m.call(LPM.match, [a, b, n], i32);

  // best(d, key) → the longest-prefix element or 0 (lock held).
  fn(LPM.best, [i32, i32], i32, 5, (v) => {
    const [D, KEY] = [0, 1];
    const [I, E, best, bestLen, pl] = [v, v + 1, v + 2, v + 3, v + 4];
    return m.block(
      null,
      [
        s(best, c(0)),
        s(bestLen, c(-1)),
        eachElem(D, I, E, [
          m.if(
            ld(g(E)),
            block(
              s(pl, ld(keyOf(g(E)))),
              m.if(
                m.i32.and(
                  m.i32.and(m.i32.le_u(g(pl), ld(g(KEY))), m.i32.gt_s(g(pl), g(bestLen))),
                  m.i32.eq(match(keyOf(g(E)), g(KEY), dataBytes(D)), g(pl)),
                ),
                block(s(best, g(E)), s(bestLen, g(pl))),
              ),
            ),
          ),
        ]),
        g(best),
      ],
      i32,
    );
  });
  const best = (d: Ref, key: Ref) => m.call(LPM.best, [d, key], i32);

  // exact(d, key) → the element with the key's prefixlen and prefix, or 0 (lock held).
  fn(LPM.exact, [i32, i32], i32, 2, (v) => {
    const [D, KEY] = [0, 1];
    const [I, E] = [v, v + 1];
    return m.block(
      null,
      [
        eachElem(D, I, E, [
          m.if(
            m.i32.and(
              m.i32.ne(ld(g(E)), c(0)),
              m.i32.and(
                m.i32.eq(ld(keyOf(g(E))), ld(g(KEY))),
                m.i32.eq(match(keyOf(g(E)), g(KEY), dataBytes(D)), ld(g(KEY))),
              ),
            ),
            ret(g(E)),
          ),
        ]),
        c(0),
      ],
      i32,
    );
  });
  const exact = (d: Ref, key: Ref) => m.call(LPM.exact, [d, key], i32);

  // before(a, b, n) → 1 when key a comes before key b in the trie's postorder.
  fn(LPM.before, [i32, i32, i32], i32, 2, (v) => {
    const [A, B, N] = [0, 1, 2];
    const [mm, mn] = [v, v + 1];
    return m.block(
      null,
      [
        s(mm, match(g(A), g(B), g(N))),
        s(
          mn,
          min(
            () => ld(g(A)),
            () => ld(g(B)),
          ),
        ),
        // One is a prefix of the other: the more specific first.
        m.if(m.i32.eq(g(mm), g(mn)), ret(m.i32.gt_u(ld(g(A)), ld(g(B))))),
        // They diverge at bit mm: a first when its bit is 0.
        m.i32.eqz(
          m.i32.and(
            m.i32.shr_u(
              m.i32.load8_u(4, 1, add(g(A), m.i32.shr_u(g(mm), c(3)))),
              m.i32.sub(c(7), m.i32.and(g(mm), c(7))),
            ),
            c(1),
          ),
        ),
      ],
      i32,
    );
  });
  const before = (a: Ref, b: Ref, n: Ref) => m.call(LPM.before, [a, b, n], i32);

  // lookup(d, key) → value address or 0.
  fn(LPM.lookup, [i32, i32], i32, 1, (v) => {
    const [D, KEY] = [0, 1];
    const e = v;
    return m.block(
      null,
      [
        m.if(m.i32.gt_u(ld(g(KEY)), maxPrefix(D)), ret(c(0))),
        m.call(lock, [mapLock(D)], binaryen.none),
        s(e, best(g(D), g(KEY))),
        m.call(unlock, [mapLock(D)], binaryen.none),
        m.select(g(e), valueOf(D, g(e)), c(0)),
      ],
      i32,
    );
  });

  // lookup_copy(d, key, out) → 0 or −ENOENT: the value copied under the lock.
  fn(LPM.lookupCopy, [i32, i32, i32], i64, 1, (v) => {
    const [D, KEY, OUT] = [0, 1, 2];
    const e = v;
    return m.block(
      null,
      [
        m.if(m.i32.gt_u(ld(g(KEY)), maxPrefix(D)), ret(c64(-ENOENT))),
        m.call(lock, [mapLock(D)], binaryen.none),
        s(e, best(g(D), g(KEY))),
        m.if(g(e), m.memory.copy(g(OUT), valueOf(D, g(e)), desc(D, MAP_DESC.valueSize))),
        m.call(unlock, [mapLock(D)], binaryen.none),
        m.select(g(e), c64(0n), c64(-ENOENT)),
      ],
      i64,
    );
  });

  // update(d, key, value, flags) → 0 or −errno.
  fn(LPM.update, [i32, i32, i32, i64], i64, 3, (v) => {
    const [D, KEY, V, FLAGS] = [0, 1, 2, 3];
    const [e, I, r] = [v, v + 1, v + 2];
    const flagsIs = (x: bigint) => m.i64.eq(m.local.get(FLAGS, i64), c64(x));
    const out = "lpm_out";
    const write = (x: number) =>
      block(
        m.memory.fill(keyOf(g(x)), c(0), desc(D, MAP_DESC.keyStride)),
        m.memory.copy(keyOf(g(x)), g(KEY), desc(D, MAP_DESC.keySize)),
        m.memory.copy(valueOf(D, g(x)), g(V), desc(D, MAP_DESC.valueSize)),
      );
    return m.block(
      null,
      [
        m.if(m.i64.gt_u(m.local.get(FLAGS, i64), c64(2n)), ret(c64(-EINVAL))),
        m.if(m.i32.gt_u(ld(g(KEY)), maxPrefix(D)), ret(c64(-EINVAL))),
        m.call(lock, [mapLock(D)], binaryen.none),
        s(r, c(0)),
        m.block(out, [
          s(e, exact(g(D), g(KEY))),
          m.if(
            g(e),
            block(
              m.if(flagsIs(1n), block(s(r, c(-Number(EEXIST))), m.br(out))),
              write(e),
              m.br(out),
            ),
          ),
          m.if(flagsIs(2n), block(s(r, c(-Number(ENOENT))), m.br(out))),
          m.if(
            m.i32.ge_u(desc(D, MAP_DESC.freeHead), desc(D, MAP_DESC.maxEntries)),
            block(s(r, c(-Number(ENOSPC))), m.br(out)),
          ),
          // A free element (there is one: fewer entries than elements).
          s(I, c(0)),
          s(e, desc(D, MAP_DESC.elems)),
          whileLoop(ld(g(e)), [
            s(I, add(g(I), c(1))),
            s(e, add(desc(D, MAP_DESC.elems), mul(g(I), desc(D, MAP_DESC.elemSize)))),
          ]),
          write(e),
          st(g(e), 0, c(1)),
          st(g(D), MAP_DESC.freeHead, add(desc(D, MAP_DESC.freeHead), c(1))),
        ]),
        m.call(unlock, [mapLock(D)], binaryen.none),
        m.i64.extend_s(g(r)),
      ],
      i64,
    );
  });

  // delete(d, key) → 0 or −errno.
  fn(LPM.delete, [i32, i32], i64, 1, (v) => {
    const [D, KEY] = [0, 1];
    const e = v;
    return m.block(
      null,
      [
        m.if(m.i32.gt_u(ld(g(KEY)), maxPrefix(D)), ret(c64(-EINVAL))),
        m.call(lock, [mapLock(D)], binaryen.none),
        s(e, exact(g(D), g(KEY))),
        m.if(
          g(e),
          block(
            st(g(e), 0, c(0)),
            st(g(D), MAP_DESC.freeHead, m.i32.sub(desc(D, MAP_DESC.freeHead), c(1))),
          ),
        ),
        m.call(unlock, [mapLock(D)], binaryen.none),
        m.select(g(e), c64(0n), c64(-ENOENT)),
      ],
      i64,
    );
  });

  // next_key(d, key or 0, out) → 0 or −ENOENT.
  fn(LPM.nextKey, [i32, i32, i32], i64, 4, (v) => {
    const [D, KEY, OUT] = [0, 1, 2];
    const [cur, I, E, pick] = [v, v + 1, v + 2, v + 3];
    const n = () => dataBytes(D);
    return m.block(
      null,
      [
        m.call(lock, [mapLock(D)], binaryen.none),
        s(cur, c(0)),
        m.if(
          m.i32.and(
            m.i32.ne(g(KEY), c(0)),
            m.i32.le_u(m.select(g(KEY), ld(g(KEY)), c(0)), maxPrefix(D)),
          ),
          s(cur, exact(g(D), g(KEY))),
        ),
        s(pick, c(0)),
        eachElem(D, I, E, [
          m.if(
            m.i32.and(
              m.i32.ne(ld(g(E)), c(0)),
              m.i32.or(m.i32.eqz(g(cur)), before(keyOf(g(cur)), keyOf(g(E)), n())),
            ),
            m.if(
              m.i32.or(m.i32.eqz(g(pick)), before(keyOf(g(E)), keyOf(g(pick)), n())),
              s(pick, g(E)),
            ),
          ),
        ]),
        m.if(g(pick), m.memory.copy(g(OUT), keyOf(g(pick)), desc(D, MAP_DESC.keySize))),
        m.call(unlock, [mapLock(D)], binaryen.none),
        m.select(g(pick), c64(0n), c64(-ENOENT)),
      ],
      i64,
    );
  });
}
