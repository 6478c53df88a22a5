// The C reference consumer over fake rings (no kernel, hot cache), the twin of the Wasm
// batch loop's fake-ring figure in bench/xsk.ts: the same batch code as the live
// consumer (xsk_batch.h, libxdp's ring ops), over rings and a UMEM in this process's
// memory. RX holds RING descriptors written once, all of one UDP frame to port 9 (the
// handler's XSK_DROP path); each lap the "kernel" publishes BATCH of them again and
// takes the refill, as bench/xsk.ts's fake kernel does.
//
// usage: xsk_fake RING LAPS RUNS → one JSON line: the median ns per frame of RUNS timed
// runs of LAPS batches (after one untimed run), and the frames touched.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "xsk_batch.h"

#define HEADROOM 256u
#define BATCH 64u

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: xsk_fake RING LAPS RUNS\n");
    return 2;
  }
  uint32_t ring = (uint32_t)atoi(argv[1]);
  uint32_t laps = (uint32_t)atoi(argv[2]);
  int runs = atoi(argv[3]);
  if (ring == 0 || (ring & (ring - 1)) || ring < BATCH || laps == 0 || runs < 1 || runs > 99) {
    fprintf(stderr, "xsk_fake: RING must be a power of two ≥ %u, LAPS and RUNS (≤ 99) positive\n", BATCH);
    return 2;
  }
  uint8_t *buf = aligned_alloc(FRAME_SIZE, (size_t)ring * FRAME_SIZE);
  struct xdp_desc *rxd = calloc(ring, sizeof *rxd);
  uint64_t *fqd = calloc(ring, sizeof *fqd);
  if (!buf || !rxd || !fqd) return 1;
  /* eth (IPv4) + IPv4 (IHL 5, UDP) + UDP 9 → 9, 15 bytes of payload: bench/xsk.ts's frame. */
  uint8_t frame[57] = {0};
  frame[12] = 0x08;
  frame[14] = 0x45;
  frame[23] = 17;
  frame[35] = 9;
  frame[37] = 9;
  for (uint32_t i = 0; i < ring; i++) {
    memcpy(buf + (size_t)i * FRAME_SIZE + HEADROOM, frame, sizeof frame);
    rxd[i].addr = (uint64_t)i * FRAME_SIZE + HEADROOM;
    rxd[i].len = sizeof frame;
  }
  uint32_t rx_prod = 0, rx_cons = 0, fq_prod = 0, fq_cons = 0, flags = 0;
  struct xsk_ring_cons rx = {.mask = ring - 1, .size = ring, .producer = &rx_prod,
                             .consumer = &rx_cons, .ring = rxd, .flags = &flags};
  /* As xsk_umem__create leaves it: cached_cons is the consumer plus the ring's size. */
  struct xsk_ring_prod fq = {.cached_cons = ring, .mask = ring - 1, .size = ring,
                             .producer = &fq_prod, .consumer = &fq_cons, .ring = fqd,
                             .flags = &flags};
  double ns[100];
  for (int r = 0; r <= runs; r++) {
    uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < laps; i++) {
      __atomic_store_n(&rx_prod, rx_prod + BATCH, __ATOMIC_RELEASE);
      if (drop_batch(&rx, &fq, buf, BATCH, NULL) != BATCH) return 1;
      __atomic_store_n(&fq_cons, __atomic_load_n(&fq_prod, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
    }
    ns[r] = (double)(now_ns() - t0) / ((double)laps * BATCH);
  }
  /* Run 0 is the warm-up. */
  qsort(ns + 1, (size_t)runs, sizeof ns[0], cmp);
  uint64_t want = (uint64_t)(runs + 1) * laps * BATCH;
  if (touched_udp != want || rx_frames != want || port7 != 0) {
    fprintf(stderr, "xsk_fake: touched %llu of %llu frames\n", (unsigned long long)touched_udp,
            (unsigned long long)want);
    return 1;
  }
  printf("{\"nsPerFrame\":%.2f,\"frames\":%llu}\n", ns[1 + runs / 2], (unsigned long long)want);
  return 0;
}
