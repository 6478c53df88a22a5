// Socket filter with legacy packet loads (BPF_LD | BPF_ABS / BPF_IND).
#include <linux/bpf.h>
#define SEC(x) __attribute__((section(x), used))
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

SEC("socket") int skb(struct __sk_buff *skb) {
  unsigned long long proto = load_half(skb, 12);
  if (proto != 0x0800) return 0;
  unsigned long long ihl = (load_byte(skb, 14) & 0xf) << 2;
  unsigned long long ports = load_word(skb, 14 + ihl);
  unsigned long long flags = load_byte(skb, 14 + ihl + 13);
  return (ports >> 16) == 80 && (flags & 2) ? -1 : 0;
}
