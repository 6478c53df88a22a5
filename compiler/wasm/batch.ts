// The AF_XDP batch loop, generated into the handler module so that no JavaScript runs
// per frame: `xdpc_rx_batch_<handler>(ctl, budget) → frames` walks one socket's four
// rings, which the runtime maps into the module's own shared memory (mmap MAP_FIXED),
// and runs the handler over each received frame in place in the UMEM.
//
//   completion ring → free stack      frames the kernel has sent come back
//   RX ring (≤ budget frames) → handler → XSK_TX: TX ring (XSK_DROP, or TX ring full: free stack)
//   free stack → fill ring            as far as the fill ring has room
//
// A frame is in exactly one place at a time: a ring (kernel side), or the socket's free
// stack. The stack holds every frame of the socket's UMEM share, so it never overflows,
// and the fill ring is never handed more than it has room for.
//
// Memory ordering is the kernel's (tools/lib/bpf/xsk.h): the other side's index is an
// atomic load before descriptors are read, our index a release store after descriptors
// are written (and read). Wasm's only store with release order is the sequentially
// consistent `i32.atomic.store` (V8 on x86-64: an `xchg`, a full barrier, ~20 cycles,
// four per batch). With CTL.flags RELEASE_PLAIN, which the runtime sets only on x86-64,
// the index is a plain `i32.store` instead: there x86's total store order keeps a
// store after every earlier load and store of the thread, which is all a release store
// is (libxdp's smp_store_release is a plain mov on x86), and V8 keeps a function's
// linear-memory accesses in program order (they are all on its effect chain, and a
// handler call is a barrier for the compiler). That is a guarantee of V8 on x86-64,
// not of the Wasm memory model, where a plain store races; elsewhere the flag stays
// clear. Our own index of each ring is read with an ordinary load (only we write it). All
// state lives in the ring words and in the control block, and the control block's
// counters and free stack are written back only at the end of a batch, so a batch cut
// short by a trap changes nothing: a restarted worker resumes from the last whole one.
import binaryen from "binaryen";
import { DATA_OUT, END_OUT } from "./codegen.ts";
import { CTL, RELEASE_PLAIN, rxBatchExport, rxRunExport, WAKE_IDLE } from "./xsk-abi.ts";

type Ref = binaryen.ExpressionRef;

/** Adds `xdpc_rx_batch_<handler>` to a module that already holds the handler. */
export function emitRxBatch(mod: binaryen.Module, handler: string, adjusts: boolean): string {
  const i32 = binaryen.i32;
  const i64 = binaryen.i64;
  const m = mod;
  // params
  const CTLP = 0;
  const BUDGET = 1;
  // locals
  let next = 2;
  const L = () => next++;
  const umem = L(),
    csize = L(),
    freeBase = L(),
    freeCount = L(),
    rxCons = L(),
    n = L(),
    k = L(),
    d = L(),
    addr = L(),
    len = L(),
    chunk = L(),
    v = L(),
    txProd = L(),
    txFree = L(),
    txStart = L(),
    frProd = L(),
    prod = L(),
    cons = L(),
    tx = L(),
    drop = L(),
    txFull = L(),
    start = L(),
    end = L(),
    rxq = L(),
    ifx = L(),
    // ring addresses and masks, read once (the handler may write memory, so loads
    // of the control block inside the loops would be repeated per frame)
    rxDesc = L(),
    rxMask = L(),
    txDesc = L(),
    txMask = L(),
    frDesc = L(),
    frMask = L(),
    crDesc = L(),
    crMask = L(),
    plain = L(),
    touch = L();
  const vars: binaryen.Type[] = new Array(next - 2).fill(i32);

  const get = (i: number) => m.local.get(i, i32);
  const set = (i: number, e: Ref) => m.local.set(i, e);
  const c = (x: number) => m.i32.const(x);
  const ctl = (field: number) => m.i32.load(field, 4, get(CTLP));
  const ctlSet = (field: number, e: Ref) => m.i32.store(field, 4, get(CTLP), e);
  const add = (a: Ref, b: Ref) => m.i32.add(a, b);
  const sub = (a: Ref, b: Ref) => m.i32.sub(a, b);
  const and = (a: Ref, b: Ref) => m.i32.and(a, b);
  const aload = (p: Ref) => m.i32.atomic.load(0, p);
  const astore = (p: Ref, e: Ref) => m.i32.atomic.store(0, p, e);
  /** Stores our index of a ring (after its descriptors): a release store, see the top. */
  const publish = (field: number, e: () => Ref) =>
    m.if(get(plain), m.i32.store(0, 4, ctl(field), e()), astore(ctl(field), e()));
  /** The RX descriptor of the batch's k-th frame (16 bytes each). */
  const rxDescAt = () =>
    add(get(rxDesc), m.i32.shl(and(add(get(rxCons), get(k)), get(rxMask)), c(4)));
  /** min(local a, local b), unsigned (binaryen expressions are trees: each use is a fresh node). */
  const minU = (a: number, b: number) => m.select(m.i32.lt_u(get(a), get(b)), get(a), get(b));
  const counterAdd = (field: number, local: number) =>
    m.i64.store(
      field,
      8,
      get(CTLP),
      m.i64.add(m.i64.load(field, 8, get(CTLP)), m.i64.extend_u(get(local))),
    );
  const push = (chunkRef: Ref) => [
    m.i32.store(0, 4, add(get(freeBase), m.i32.shl(get(freeCount), c(2))), chunkRef),
    set(freeCount, add(get(freeCount), c(1))),
  ];
  /** for (k = 0; k < count; k++) body */
  const loop = (label: string, count: Ref, body: Ref[]) =>
    m.block(null, [
      set(k, c(0)),
      m.loop(
        label,
        m.block(null, [
          m.br(`${label}_done`, m.i32.ge_u(get(k), count)),
          ...body,
          set(k, add(get(k), c(1))),
          m.br(label),
        ]),
      ),
    ]);
  const wrapLoop = (label: string, count: Ref, body: Ref[]) =>
    m.block(`${label}_done`, [loop(label, count, body)]);

  const body: Ref[] = [
    set(umem, ctl(CTL.umem)),
    set(csize, ctl(CTL.chunkSize)),
    set(freeBase, ctl(CTL.freeBase)),
    set(freeCount, ctl(CTL.freeCount)),
    set(rxq, ctl(CTL.rxQueue)),
    set(ifx, ctl(CTL.ifindex)),
    set(rxDesc, ctl(CTL.rxDesc)),
    set(rxMask, ctl(CTL.rxMask)),
    set(txDesc, ctl(CTL.txDesc)),
    set(txMask, ctl(CTL.txMask)),
    set(frDesc, ctl(CTL.frDesc)),
    set(frMask, ctl(CTL.frMask)),
    set(crDesc, ctl(CTL.crDesc)),
    set(crMask, ctl(CTL.crMask)),
    set(plain, and(ctl(CTL.flags), c(RELEASE_PLAIN))),

    // 1. completions: frames the kernel has sent return to the free stack.
    set(cons, m.i32.load(0, 4, ctl(CTL.crConsumer))),
    set(prod, aload(ctl(CTL.crProducer))),
    set(n, sub(get(prod), get(cons))),
    wrapLoop("comp", get(n), [
      set(
        addr,
        m.i32.wrap(
          m.i64.load(
            0,
            8,
            add(get(crDesc), m.i32.shl(and(add(get(cons), get(k)), get(crMask)), c(3))),
          ),
        ),
      ),
      ...push(and(get(addr), sub(c(0), get(csize)))),
    ]),
    m.if(
      get(n),
      m.block(null, [publish(CTL.crConsumer, () => get(prod)), counterAdd(CTL.completed, n)]),
    ),

    // 2. RX: run the handler over up to `budget` frames.
    set(rxCons, m.i32.load(0, 4, ctl(CTL.rxConsumer))),
    set(n, sub(aload(ctl(CTL.rxProducer)), get(rxCons))),
    set(n, minU(n, BUDGET)),
    set(txProd, m.i32.load(0, 4, ctl(CTL.txProducer))),
    set(txStart, get(txProd)),
    set(txFree, sub(add(get(txMask), c(1)), sub(get(txProd), aload(ctl(CTL.txConsumer))))),
    set(tx, c(0)),
    set(drop, c(0)),
    set(txFull, c(0)),
    // First, one load of each frame's first byte, back to back: the kernel wrote the
    // frames on another core, and the handler's reads of one frame would otherwise wait
    // out that cache miss before the next frame's could start (Wasm has no prefetch).
    set(touch, c(0)),
    wrapLoop("touch", get(n), [
      set(
        touch,
        m.i32.or(
          get(touch),
          m.i32.load8_u(0, 1, add(get(umem), m.i32.wrap(m.i64.load(0, 8, rxDescAt())))),
        ),
      ),
    ]),
    wrapLoop("rx", get(n), [
      set(d, rxDescAt()),
      set(addr, m.i32.wrap(m.i64.load(0, 8, get(d)))),
      set(len, m.i32.load(8, 4, get(d))),
      set(chunk, and(get(addr), sub(c(0), get(csize)))),
      set(
        v,
        m.call(
          handler,
          [
            add(get(umem), get(addr)),
            get(len),
            get(rxq),
            get(ifx),
            sub(get(addr), get(chunk)),
            sub(sub(get(csize), sub(get(addr), get(chunk))), get(len)),
          ],
          i32,
        ),
      ),
      ...(adjusts
        ? [
            // The handler moved the frame's bounds: send what it left.
            set(start, m.global.get(DATA_OUT, i32)),
            set(end, m.global.get(END_OUT, i32)),
            set(addr, sub(get(start), get(umem))),
            set(len, sub(get(end), get(start))),
          ]
        : []),
      m.if(
        m.i32.eq(get(v), c(1)),
        m.if(
          get(txFree),
          m.block(null, [
            set(d, add(get(txDesc), m.i32.shl(and(get(txProd), get(txMask)), c(4)))),
            m.i64.store(0, 8, get(d), m.i64.extend_u(get(addr))),
            m.i32.store(8, 4, get(d), get(len)),
            m.i32.store(12, 4, get(d), c(0)),
            set(txProd, add(get(txProd), c(1))),
            set(txFree, sub(get(txFree), c(1))),
            set(tx, add(get(tx), c(1))),
          ]),
          m.block(null, [...push(get(chunk)), set(txFull, add(get(txFull), c(1)))]),
        ),
        m.block(null, [...push(get(chunk)), set(drop, add(get(drop), c(1)))]),
      ),
    ]),
    m.if(
      get(n),
      publish(CTL.rxConsumer, () => add(get(rxCons), get(n))),
    ),
    m.if(
      m.i32.ne(get(txProd), get(txStart)),
      publish(CTL.txProducer, () => get(txProd)),
    ),

    // 3. refill: the free stack's frames go to the fill ring, as far as it has room.
    set(frProd, m.i32.load(0, 4, ctl(CTL.frProducer))),
    set(prod, sub(add(get(frMask), c(1)), sub(get(frProd), aload(ctl(CTL.frConsumer))))),
    set(prod, minU(prod, freeCount)),
    wrapLoop("fill", get(prod), [
      set(freeCount, sub(get(freeCount), c(1))),
      m.i64.store(
        0,
        8,
        add(get(frDesc), m.i32.shl(and(add(get(frProd), get(k)), get(frMask)), c(3))),
        m.i64.extend_u(m.i32.load(0, 4, add(get(freeBase), m.i32.shl(get(freeCount), c(2))))),
      ),
    ]),
    m.if(
      get(prod),
      publish(CTL.frProducer, () => add(get(frProd), get(prod))),
    ),

    // 4. write back, and say which wakeups the kernel asked for.
    ctlSet(CTL.freeCount, get(freeCount)),
    ctlSet(CTL.touched, get(touch)),
    counterAdd(CTL.rx, n),
    counterAdd(CTL.tx, tx),
    counterAdd(CTL.drop, drop),
    counterAdd(CTL.txFull, txFull),
    m.i64.store(
      CTL.batches,
      8,
      get(CTLP),
      m.i64.add(m.i64.load(CTL.batches, 8, get(CTLP)), m.i64.const(1n as never)),
    ),
    ctlSet(
      CTL.wake,
      m.i32.or(
        m.select(
          // frames still on the TX ring (copy mode sends 32 per kick), and the kernel asks
          m.i32.and(
            m.i32.ne(get(txProd), aload(ctl(CTL.txConsumer))),
            and(aload(ctl(CTL.txFlags)), c(1)),
          ),
          c(1),
          c(0),
        ),
        m.select(and(aload(ctl(CTL.frFlags)), c(1)), c(2), c(0)),
      ),
    ),
    get(n),
  ];
  const name = rxBatchExport(handler);
  m.addFunction(name, binaryen.createType([i32, i32]), i32, vars, m.block(null, body, i32));
  m.addFunctionExport(name, name);
  emitRxRun(m, name, rxRunExport(handler));
  return name;
}

/**
 * `xdpc_rx_run_<handler>(ctl, budget, batches, spins) → frames`: the worker's loop
 * around the batch, inside the module, so that neither a busy ring nor an empty one
 * costs a JS→Wasm call per batch. Up to `batches` whole batches (each writes back on
 * its own, so a trap between them loses nothing); when one finds RX empty, up to
 * `spins` atomic loads of the RX producer wait for the kernel before it gives up and
 * sets WAKE_IDLE (the worker may sleep). It returns at once after a batch that asks for
 * a wakeup (a TX kick or a fill-ring wakeup: system calls are the worker's).
 */
function emitRxRun(m: binaryen.Module, batch: string, name: string): void {
  const i32 = binaryen.i32;
  const CTLP = 0,
    BUDGET = 1,
    BATCHES = 2,
    SPINS = 3;
  const total = 4,
    got = 5,
    done = 6,
    spin = 7,
    rxP = 8,
    rxC = 9;
  const get = (i: number) => m.local.get(i, i32);
  const set = (i: number, e: Ref) => m.local.set(i, e);
  const c = (x: number) => m.i32.const(x);
  const ctl = (field: number) => m.i32.load(field, 4, get(CTLP));
  const body = m.block(
    null,
    [
      set(rxP, ctl(CTL.rxProducer)),
      set(rxC, ctl(CTL.rxConsumer)),
      m.block("out", [
        m.loop(
          "next",
          m.block(null, [
            set(got, m.call(batch, [get(CTLP), get(BUDGET)], i32)),
            set(total, m.i32.add(get(total), get(got))),
            m.br("out", ctl(CTL.wake)),
            m.if(
              get(got),
              m.block(null, [
                set(done, m.i32.add(get(done), c(1))),
                m.br("out", m.i32.ge_u(get(done), get(BATCHES))),
                m.br("next"),
              ]),
            ),
            // A budget of 0 takes no frames: one batch (completions, refill), and out.
            m.br("out", m.i32.eqz(get(BUDGET))),
            // RX was empty: wait for the kernel's producer a little, inside Wasm.
            set(spin, c(0)),
            m.loop(
              "spin",
              m.block(null, [
                m.if(
                  m.i32.ge_u(get(spin), get(SPINS)),
                  m.block(null, [m.i32.store(CTL.wake, 4, get(CTLP), c(WAKE_IDLE)), m.br("out")]),
                ),
                m.br("next", m.i32.ne(m.i32.atomic.load(0, get(rxP)), m.i32.load(0, 4, get(rxC)))),
                set(spin, m.i32.add(get(spin), c(1))),
                m.br("spin"),
              ]),
            ),
          ]),
        ),
      ]),
      get(total),
    ],
    i32,
  );
  m.addFunction(name, binaryen.createType([i32, i32, i32, i32]), i32, new Array(6).fill(i32), body);
  m.addFunctionExport(name, name);
}
