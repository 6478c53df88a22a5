// C struct layout with natural alignment, exactly as clang lays out the equivalent
// C struct for -target bpf (and x86-64): each field at the next multiple of its
// alignment, struct alignment = max field alignment, size rounded up to it.
import { sizeAlign, type StructField, type StructType, type Type } from "./types.ts";

export function layoutStruct(
  name: string,
  fields: readonly { name: string; type: Type }[],
): StructType {
  let offset = 0;
  let align = 1;
  const out: StructField[] = [];
  for (const fd of fields) {
    const sa = sizeAlign(fd.type);
    offset = alignUp(offset, sa.align);
    out.push({ name: fd.name, type: fd.type, offset, size: sa.size });
    offset += sa.size;
    align = Math.max(align, sa.align);
  }
  return { kind: "struct", name, fields: out, size: alignUp(offset, align), align };
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
