// The part of the WebAssembly JS API this backend uses. tsconfig's lib is ES2022
// without DOM, which declares none of it; Node 20 provides all of it at run time.
export {};

declare global {
  namespace WebAssembly {
    type ImportValue = Function | Global | Memory;
    type Imports = Record<string, Record<string, ImportValue>>;
    interface ModuleImportDescriptor {
      module: string;
      name: string;
      kind: "function" | "global" | "memory" | "table" | "tag";
    }
    interface ModuleExportDescriptor {
      name: string;
      kind: "function" | "global" | "memory" | "table" | "tag";
    }
    class Module {
      constructor(bytes: Uint8Array);
      static imports(m: Module): ModuleImportDescriptor[];
      static exports(m: Module): ModuleExportDescriptor[];
      static customSections(m: Module, name: string): ArrayBuffer[];
    }
    class Instance {
      constructor(m: Module, imports?: Imports);
      readonly exports: Record<string, Function | Global | Memory>;
    }
    class Memory {
      constructor(d: { initial: number; maximum?: number; shared?: boolean });
      readonly buffer: ArrayBuffer | SharedArrayBuffer;
      grow(pages: number): number;
    }
    class Global {
      constructor(d: { value: "i32" | "i64"; mutable?: boolean }, v?: number | bigint);
      value: number | bigint;
    }
  }
}
