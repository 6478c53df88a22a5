// The BTF objects the kernel holds (a loaded program's or map's types), as raw bytes
// for compiler/btf's reader: libbpf's btf__load_from_kernel_by_id.
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

let api:
  | {
      load: (id: number) => unknown;
      raw: (b: unknown, size: number[]) => unknown;
      free: (b: unknown) => void;
    }
  | undefined;

function bind() {
  if (api) return api;
  const bpf = library("libbpf.so.1");
  koffi().opaque("xdpc_btf");
  api = {
    load: bpf.func("xdpc_btf *btf__load_from_kernel_by_id(uint32_t id)"),
    raw: bpf.func("const void *btf__raw_data(const xdpc_btf *btf, _Out_ uint32_t *size)"),
    free: bpf.func("void btf__free(xdpc_btf *btf)"),
  };
  return api;
}

/** The raw BTF (header, types, strings) of kernel BTF object `id`. */
export const kernelBtfBytes = sys(
  "kernelBtfBytes",
  function kernelBtfBytes(id: number): Uint8Array {
    const k = koffi();
    const btf = bind();
    const b = btf.load(id);
    if (!b)
      throw new NativeError(
        `cannot read BTF object ${id}`,
        k.errno() || 2,
        "btf__load_from_kernel_by_id",
      );
    try {
      const size = [0];
      const p = btf.raw(b, size);
      if (!p) throw new NativeError(`cannot read BTF object ${id}`, 12, "btf__raw_data");
      return new Uint8Array(k.decode(p, "uint8_t", size[0]!) as number[]);
    } finally {
      btf.free(b);
    }
  },
);
