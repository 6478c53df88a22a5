// The contract between the generated AF_XDP batch loop (batch.ts) and the runtime
// that maps the rings and calls it (runtime/xsk), as pure data: no binaryen here, so
// the runtime and its workers may import it.

export const RX_BATCH_PREFIX = "xdpc_rx_batch_";
export const rxBatchExport = (handler: string) => RX_BATCH_PREFIX + handler;
export const RX_RUN_PREFIX = "xdpc_rx_run_";
/**
 * `xdpc_rx_run_<handler>(ctl, budget, batches, spins) → frames`: up to `batches` batches
 * of up to `budget` frames in one call, spinning up to `spins` times on the RX producer
 * when the ring is empty; returns early when the kernel wants a wakeup (`wake`).
 */
export const rxRunExport = (handler: string) => RX_RUN_PREFIX + handler;

/**
 * The control block of one socket (byte offsets; all fields u32 unless u64). The
 * runtime writes the ring addresses (offsets in the memory, computed from
 * XDP_MMAP_OFFSETS) before the first batch; the batch keeps the rest.
 */
export const CTL = {
  rxProducer: 0,
  rxConsumer: 4,
  rxDesc: 8,
  rxMask: 12,
  txProducer: 16,
  txConsumer: 20,
  txDesc: 24,
  txMask: 28,
  frProducer: 32,
  frConsumer: 36,
  frDesc: 40,
  frMask: 44,
  crProducer: 48,
  crConsumer: 52,
  crDesc: 56,
  crMask: 60,
  txFlags: 64,
  frFlags: 68,
  /** Offset of the UMEM in the memory (descriptor addresses are relative to it). */
  umem: 72,
  /** UMEM chunk size (a power of two). */
  chunkSize: 76,
  /** Address of the free stack: u32 chunk addresses (relative to the UMEM). */
  freeBase: 80,
  /** Entries on the free stack. */
  freeCount: 84,
  rxQueue: 88,
  ifindex: 92,
  /**
   * Out: bit 0 the TX ring wants a kick (sendto), bit 1 the fill ring wants a wakeup
   * (poll); bit 2 (run loop only) the RX ring stayed empty through the spins.
   */
  wake: 96,
  /**
   * In: bit 0 (RELEASE_PLAIN) publishes our ring indices with plain stores instead of
   * sequentially consistent ones; the runtime sets it only on x86-64 (docs/wasm.md).
   */
  flags: 100,
  /** u64 counters. */
  rx: 104,
  tx: 112,
  drop: 120,
  /** XSK_TX verdicts dropped because the TX ring was full. */
  txFull: 128,
  batches: 136,
  completed: 144,
  /** Out: where the batch's early loads of its frames' first bytes end up (never read). */
  touched: 152,
  size: 160,
} as const;

export const WAKE_TX = 1;
export const WAKE_FILL = 2;
export const WAKE_IDLE = 4;

/** CTL.flags: plain stores are release stores here (x86-64's total store order). */
export const RELEASE_PLAIN = 1;
