// Every comparison kind, signed and unsigned, against registers and immediates; stack use.
#include <linux/bpf.h>
#define SEC(x) __attribute__((section(x), used))

static __attribute__((noinline)) int classify(long x, long y, unsigned long u, unsigned long v) {
  int r = 0;
  if (x < y) r += 1;
  if (x <= -3) r += 2;
  if (x > 100) r += 4;
  if (x >= y) r += 8;
  if (u < v) r += 16;
  if (u <= 7) r += 32;
  if (u > v) r += 64;
  if (u >= 9) r += 128;
  if (u == v) r += 256;
  if (u != 5) r += 512;
  if (u & 0x40) r += 1024;
  if (u & v) r += 2048;
  return r;
}

SEC("xdp") int branches(struct xdp_md *ctx) {
  volatile long buf[4];
  buf[0] = ctx->ingress_ifindex;
  buf[1] = ctx->rx_queue_index;
  buf[2] = buf[0] * buf[1];
  buf[3] = buf[2] - 17;
  int r = classify(buf[0], buf[1], buf[2], buf[3]);
  for (int i = 0; i < 4; i++) r += buf[i] & 3;
  return r & 3;
}
