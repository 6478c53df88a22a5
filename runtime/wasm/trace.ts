// bpf_trace_printk's formatting, for the host: the conversions the checker accepts in
// a trace() format (%d %i %u %x %c %%, with l or ll), over u64 arguments. Without l/ll
// a conversion reads the low 32 bits, as the kernel's does.

export function formatTrace(fmt: string, args: readonly bigint[]): string {
  let k = 0;
  return fmt.replace(/%(l{0,2})([diuxc%])/g, (_all, len: string, conv: string) => {
    if (conv === "%") return "%";
    const raw = args[k++] ?? 0n;
    const bits = len ? 64 : 32;
    const u = BigInt.asUintN(bits, raw);
    switch (conv) {
      case "d":
      case "i":
        return BigInt.asIntN(bits, raw).toString();
      case "u":
        return u.toString();
      case "x":
        return u.toString(16);
      default:
        return String.fromCharCode(Number(u & 0xffn));
    }
  });
}
