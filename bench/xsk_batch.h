// The C reference consumer's per-batch work, shared by the live consumer (xsk_consumer.c)
// and its fake-ring twin (xsk_fake.c) so that both time the same code: peek up to BATCH
// RX descriptors with libxdp's ring ops, touch each frame as the bench's Wasm handler
// does on its drop path (EtherType, IPv4 version/IHL and protocol, UDP destination port),
// and put every frame straight back on the fill ring.
#ifndef XDPC_XSK_BATCH_H
#define XDPC_XSK_BATCH_H
#include <poll.h>
#include <stdint.h>
#include <xdp/xsk.h>

#define FRAME_SIZE 4096u

static uint64_t rx_frames, touched_udp, port7;

/* The handler's drop path: everything it reads before it returns XSK_DROP. */
static inline void touch(const uint8_t *p, uint32_t len) {
  if (len < 14) return;
  uint16_t proto = (uint16_t)(p[12] << 8 | p[13]);
  if (proto != 0x0800 || len < 34) return;
  uint8_t vihl = p[14];
  if ((vihl >> 4) != 4) return;
  uint32_t ihl = (uint32_t)(vihl & 15) * 4;
  if (ihl < 20 || p[23] != 17 || len < 14 + ihl + 8) return;
  const uint8_t *udp = p + 14 + ihl;
  uint16_t dport = (uint16_t)(udp[2] << 8 | udp[3]);
  touched_udp++;
  if (dport == 7) port7++;
}

/* One batch: the frames taken off RX (0 if it was empty). The fill ring has room for
   every frame taken (each frame is in one ring at a time); while the kernel has not
   taken the refill yet, a wakeup through pfd (when it asks for one) lets it. */
static inline uint32_t drop_batch(struct xsk_ring_cons *rx, struct xsk_ring_prod *fq, void *buf,
                                  uint32_t batch, struct pollfd *pfd) {
  uint32_t rx_idx = 0;
  uint32_t n = xsk_ring_cons__peek(rx, batch, &rx_idx);
  if (n == 0) return 0;
  uint32_t fq_idx = 0;
  while (xsk_ring_prod__reserve(fq, n, &fq_idx) != n) {
    if (xsk_ring_prod__needs_wakeup(fq)) poll(pfd, 1, 0);
  }
  for (uint32_t i = 0; i < n; i++) {
    const struct xdp_desc *d = xsk_ring_cons__rx_desc(rx, rx_idx + i);
    uint64_t addr = xsk_umem__extract_addr(d->addr);
    uint64_t off = xsk_umem__extract_offset(d->addr);
    touch((const uint8_t *)xsk_umem__get_data(buf, addr + off), d->len);
    *xsk_ring_prod__fill_addr(fq, fq_idx + i) = addr & ~(uint64_t)(FRAME_SIZE - 1);
  }
  xsk_ring_prod__submit(fq, n);
  xsk_ring_cons__release(rx, n);
  rx_frames += n;
  return n;
}
#endif
