// ALU, shifts, byte swaps, 64-bit constants, division, and bounds checks on packet data.
#include <linux/bpf.h>
#define SEC(x) __attribute__((section(x), used))

SEC("xdp") int alu(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 32 > end) return XDP_ABORTED;
  unsigned long a = *(unsigned long *)data;
  unsigned int b = *(unsigned int *)(data + 8);
  unsigned short c = *(unsigned short *)(data + 12);
  unsigned char d = *(unsigned char *)(data + 14);
  long s = *(long *)(data + 16);
  a += b; a -= d; a *= 3; a /= (b | 1); a |= 0x10; a &= ~0xffUL; a <<= 5; a >>= (b & 7); a ^= c;
  s >>= 3; s = -s; s = s >> (c & 15);
  a += __builtin_bswap64(a) + __builtin_bswap32(b) + __builtin_bswap16(c);
  a += 0x1122334455667788UL;
  a = a % 10007;
  *(unsigned long *)(data + 24) = a + s;
  *(unsigned int *)(data + 16) = b * 7;
  *(unsigned short *)(data + 20) = c - 1;
  *(unsigned char *)(data + 22) = d + 1;
  return a > 1000 ? XDP_PASS : (s < -5 ? XDP_DROP : XDP_TX);
}
