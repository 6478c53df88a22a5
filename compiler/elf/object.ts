// buildObject: a plain-data ObjectSpec → a BPF ELF relocatable object laid out the
// way clang 14 lays it out (so libbpf, bpftool and ip/xdp-loader accept it).
// readObject: any BPF object (ours or clang's) → sections, programs, maps, BTF.
import { BtfBuilder } from "../btf/writer.ts";
import { BtfExtBuilder } from "../btf/ext.ts";
import { Kind } from "../btf/kinds.ts";
import {
  btfResolve,
  btfSizeOf,
  parseBtf,
  parseBtfExt,
  type Btf,
  type BtfExt,
} from "../btf/reader.ts";
import {
  R_BPF_64_32,
  R_BPF_64_64,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_WRITE,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_GLOBAL,
  STB_LOCAL,
  STT_FILE,
  STT_FUNC,
  STT_OBJECT,
  STT_SECTION,
} from "./constants.ts";
import { ElfWriter, type ElfSection } from "./writer.ts";
import { parseElf, type ElfFile } from "./reader.ts";
import { alignOf, BtfTypes, cInt, sizeOf, xdpMd, type TypeDesc } from "./types.ts";

import { XDP_ACTION_NAMES, XDP_PASS } from "../uapi/bpf.ts";

export { BPF_MAP_TYPE } from "../uapi/bpf.ts";

export const LIBBPF_PIN_BY_NAME = 1;

const LDDW = 0x18;
const CALL = 0x85;
const BPF_PSEUDO_CALL = 1;

export interface RelocationSpec {
  /** Index of the 8-byte slot (lddw for map/data, call for call) within the program. */
  insnIndex: number;
  /**
   * map: the map's name. call: the subprogram's name (imm is filled in).
   * data: a global's name (the lddw's imm is an addend into it, normally 0), or a data
   * section name ".rodata" / ".data" / ".bss" (imm is the byte offset in the section).
   */
  symbol: string;
  kind: "map" | "data" | "call";
}

export interface LineInfoSpec {
  insnIndex: number;
  /** Defaults to ObjectSpec.sourcePath. */
  file?: string;
  line: number;
  col: number;
  lineText: string;
}

export interface FuncProtoSpec {
  params: { name: string; type: TypeDesc }[];
  returns: TypeDesc;
}

export interface ProgramSpec {
  name: string;
  /** "xdp" for XDP programs (several may share it); ".text" for BPF-to-BPF subprograms. */
  section: string;
  insns: Uint8Array;
  relocations?: RelocationSpec[];
  lineInfo?: LineInfoSpec[];
  /** BTF prototype; defaults to `int name(struct xdp_md *ctx)`. */
  proto?: FuncProtoSpec;
  /** Defaults to "static" in .text and "global" elsewhere (libbpf rejects static programs). */
  linkage?: "static" | "global";
}

export interface MapSpec {
  name: string;
  /** BPF_MAP_TYPE_* number. */
  type: number;
  /** Key/value types; for maps whose kernel side refuses BTF (devmap, xskmap, ...) give sizes instead. */
  key?: TypeDesc;
  value?: TypeDesc;
  keySize?: number;
  valueSize?: number;
  maxEntries: number;
  flags?: number;
  /** LIBBPF_PIN_BY_NAME (1) pins under the open's pin root; 0/undefined: not pinned. */
  pinning?: number;
  /**
   * RingBuf: the record type. The kernel refuses BTF values on ring buffers, so it is
   * written as a BTF typedef named RECORD_TYPEDEF_PREFIX + map name for userspace decoders.
   */
  record?: TypeDesc;
}

/** Prefix of the BTF typedef that names a ring buffer's record type. */
export const RECORD_TYPEDEF_PREFIX = "xdpc_record__";

export interface GlobalSpec {
  name: string;
  section: ".rodata" | ".data" | ".bss";
  type: TypeDesc;
  /** Initial bytes (length = sizeOf(type)); omitted means zero. .bss must be zero. */
  bytes?: Uint8Array;
}

/**
 * libxdp's run config of one XDP program, as `XDP_RUN_CONFIG(prog)` declares it: a
 * variable `_<program>` in `.xdp_run_config` whose struct members are `__uint(name, value)`.
 */
export interface RunConfigSpec {
  program: string;
  /** In order: `priority` and/or XDP action names (`XDP_PASS`: 1 chains, 0 does not). */
  members: { name: string; value: number }[];
}

export interface ObjectSpec {
  license: string;
  /** The source file: the ELF FILE symbol and the default line-info file name. */
  sourcePath?: string;
  programs: ProgramSpec[];
  maps?: MapSpec[];
  globals?: GlobalSpec[];
  runConfigs?: RunConfigSpec[];
}

export const RUN_CONFIG_SECTION = ".xdp_run_config";

const defaultProto: FuncProtoSpec = {
  params: [{ name: "ctx", type: { kind: "ptr", to: xdpMd } }],
  returns: cInt,
};

/** Serialises an ObjectSpec. Inconsistent specs (a compiler bug, not a user error) throw. */
export function buildObject(spec: ObjectSpec): Uint8Array {
  const elf = new ElfWriter();
  const btf = new BtfBuilder();
  const types = new BtfTypes(btf);
  const ext = new BtfExtBuilder(btf.strings);
  if (spec.sourcePath)
    elf.addSymbol({
      name: spec.sourcePath,
      value: 0,
      size: 0,
      type: STT_FILE,
      bind: STB_LOCAL,
      section: "abs",
    });

  const { codeSections, progOffset } = addCodeSections(elf, spec);
  const { dataSections, varLayout } = addDataSections(elf, spec);
  const { maps, mapsSec, mapOffsets } = addMapsSection(elf, btf, types, spec);

  const license = new TextEncoder().encode(spec.license + "\0");
  const licenseSec = elf.addSection({
    name: "license",
    type: SHT_PROGBITS,
    flags: SHF_ALLOC | SHF_WRITE,
    data: license,
    align: 1,
  });
  const runConfigs = spec.runConfigs ?? [];
  const runConfigSec = runConfigs.length
    ? elf.addSection({
        name: RUN_CONFIG_SECTION,
        type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_WRITE,
        data: new Uint8Array(runConfigs.reduce((n, r) => n + 8 * r.members.length, 0)),
        align: 8,
      })
    : undefined;

  // Functions: FUNC_PROTO + FUNC, ELF FUNC symbol, func_info at the function start.
  for (const [secName, { sec, progs }] of codeSections) {
    for (const p of progs) {
      const proto = p.proto ?? defaultProto;
      const protoId = btf.addFuncProto(
        types.id(proto.returns),
        proto.params.map((q) => ({ name: q.name, type: types.id(q.type) })),
      );
      const linkage = p.linkage ?? (secName === ".text" ? "static" : "global");
      if (secName !== ".text" && linkage === "static")
        throw new Error(`program ${p.name}: libbpf rejects static programs outside .text`);
      const funcId = btf.addFunc(p.name, protoId, linkage);
      const off = progOffset.get(p)!;
      elf.addSymbol({
        name: p.name,
        value: off,
        size: p.insns.length,
        type: STT_FUNC,
        bind: linkage === "static" ? STB_LOCAL : STB_GLOBAL,
        section: sec,
      });
      ext.addFuncInfo(secName, { insnOff: off, typeId: funcId });
    }
  }

  // Symbols for maps, globals and the license (clang: OBJECT, GLOBAL, DEFAULT).
  for (const m of maps) {
    const l = mapOffsets.get(m)!;
    elf.addSymbol({
      name: m.name,
      value: l.off,
      size: l.size,
      type: STT_OBJECT,
      bind: STB_GLOBAL,
      section: mapsSec!,
    });
  }
  const varIds = new Map<GlobalSpec, number>();
  for (const { sec, vars } of dataSections) {
    for (const g of vars) {
      // .rodata variables are `const volatile` in C: constant to the program, settable before load.
      const t: TypeDesc =
        g.section === ".rodata"
          ? { kind: "const", type: { kind: "volatile", type: g.type } }
          : g.type;
      varIds.set(g, btf.addVar(g.name, types.id(t), "global"));
      elf.addSymbol({
        name: g.name,
        value: varLayout.get(g)!,
        size: sizeOf(g.type),
        type: STT_OBJECT,
        bind: STB_GLOBAL,
        section: sec,
      });
    }
  }
  const licenseVar = btf.addVar(
    "LICENSE",
    types.id({
      kind: "array",
      elem: { kind: "int", bits: 8, signed: true, name: "char" },
      length: license.length,
    }),
    "global",
  );
  elf.addSymbol({
    name: "LICENSE",
    value: 0,
    size: license.length,
    type: STT_OBJECT,
    bind: STB_GLOBAL,
    section: licenseSec,
  });

  // Run configs: an anonymous struct of `int (*)[value]` members per program, as the
  // XDP_RUN_CONFIG macro and libbpf's __uint() give with clang.
  const runConfigVars: { type: number; offset: number; size: number }[] = [];
  let runConfigOff = 0;
  for (const r of runConfigs) {
    const prog = spec.programs.find((p) => p.name === r.program && p.section !== ".text");
    if (!prog) throw new Error(`run config for ${r.program}, which is not a program`);
    const size = 8 * r.members.length;
    const struct = btf.addStruct(
      "",
      size,
      r.members.map((m, i) => ({
        name: m.name,
        type: types.id({ kind: "ptr", to: { kind: "array", elem: cInt, length: m.value } }),
        bitOffset: i * 64,
      })),
    );
    const name = `_${r.program}`;
    runConfigVars.push({ type: btf.addVar(name, struct, "global"), offset: runConfigOff, size });
    elf.addSymbol({
      name,
      value: runConfigOff,
      size,
      type: STT_OBJECT,
      bind: STB_GLOBAL,
      section: runConfigSec!,
    });
    runConfigOff += size;
  }

  // DATASECs with real sizes and offsets (clang leaves zeros for libbpf to fix; the static linker fills them, as we do).
  const datasecs: [string, number, { type: number; offset: number; size: number }[]][] = [];
  for (const { name, sec, vars } of dataSections) {
    datasecs.push([
      name,
      sec.data.length,
      vars.map((g) => ({ type: varIds.get(g)!, offset: varLayout.get(g)!, size: sizeOf(g.type) })),
    ]);
  }
  if (mapsSec)
    datasecs.push([
      ".maps",
      mapsSec.data.length,
      maps.map((m) => ({
        type: mapOffsets.get(m)!.varId,
        offset: mapOffsets.get(m)!.off,
        size: mapOffsets.get(m)!.size,
      })),
    ]);
  datasecs.push([
    "license",
    license.length,
    [{ type: licenseVar, offset: 0, size: license.length }],
  ]);
  if (runConfigSec) datasecs.push([RUN_CONFIG_SECTION, runConfigOff, runConfigVars]);
  datasecs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [name, size, vars] of datasecs) btf.addDatasec(name, size, vars);

  relocateAndAddLines(elf, ext, spec, codeSections, progOffset, mapsSec, licenseSec);

  // Ring buffer record types last, so that every other type keeps its id.
  for (const m of maps)
    if (m.record) btf.addTypedef(RECORD_TYPEDEF_PREFIX + m.name, types.id(m.record));

  const extBytes = ext.encode(); // adds its strings to the .BTF string table first
  elf.addSection({ name: ".BTF", type: SHT_PROGBITS, flags: 0, data: btf.encode(), align: 4 });
  // libbpf refuses a .BTF.ext without func_info (-EINVAL), so an object without
  // programs (a handler-only file's) has none.
  if (spec.programs.length > 0)
    elf.addSection({ name: ".BTF.ext", type: SHT_PROGBITS, flags: 0, data: extBytes, align: 4 });
  return elf.encode();
}

/**
 * Relocations (subprogram calls against .text, map and data references against their
 * symbols) and the line info of every program, checking that both point at instructions.
 */
function relocateAndAddLines(
  elf: ElfWriter,
  ext: BtfExtBuilder,
  spec: ObjectSpec,
  codeSections: CodeSections,
  progOffset: Map<ProgramSpec, number>,
  mapsSec: ElfSection | undefined,
  licenseSec: ElfSection,
): void {
  const subprogs = new Map(
    spec.programs.filter((p) => p.section === ".text").map((p) => [p.name, p]),
  );
  const anyLines = spec.programs.some((p) => p.lineInfo?.length);
  for (const [secName, { sec, bytes, progs }] of codeSections) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const p of progs) {
      const base = progOffset.get(p)!;
      const nSlots = p.insns.length / 8;
      for (const r of p.relocations ?? []) {
        if (r.insnIndex < 0 || r.insnIndex >= nSlots)
          throw new Error(
            `program ${p.name}: relocation at slot ${r.insnIndex} is outside the program`,
          );
        const at = base + r.insnIndex * 8;
        const code = bytes[at];
        if (r.kind === "call") {
          if (code !== CALL)
            throw new Error(
              `program ${p.name}: call relocation at slot ${r.insnIndex} is not a call`,
            );
          const target = subprogs.get(r.symbol);
          if (!target) throw new Error(`program ${p.name}: call to unknown subprogram ${r.symbol}`);
          // Against the .text section symbol with imm = target slot - 1, as clang does for static functions.
          bytes[at + 1] = (bytes[at + 1]! & 0x0f) | (BPF_PSEUDO_CALL << 4);
          dv.setInt32(at + 4, progOffset.get(target)! / 8 - 1, true);
          elf.addRelocation(sec, at, elf.symbol(".text")!, R_BPF_64_32);
        } else {
          if (code !== LDDW || r.insnIndex + 1 >= nSlots)
            throw new Error(
              `program ${p.name}: ${r.kind} relocation at slot ${r.insnIndex} is not a lddw`,
            );
          const sym = elf.symbol(r.symbol);
          const isMap = sym?.type === STT_OBJECT && sym.section === mapsSec;
          const isData =
            !!sym &&
            sym.section !== mapsSec &&
            sym.section !== licenseSec &&
            (sym.type === STT_OBJECT || sym.type === STT_SECTION);
          if (!sym || (r.kind === "map" ? !isMap : !isData)) {
            throw new Error(
              `program ${p.name}: ${r.kind} relocation to unknown ${r.kind === "map" ? "map" : "global or data section"} ${r.symbol}`,
            );
          }
          elf.addRelocation(sec, at, sym, R_BPF_64_64);
        }
      }
      const lines = [...(p.lineInfo ?? [])].sort((a, b) => a.insnIndex - b.insnIndex);
      if (anyLines && lines[0]?.insnIndex !== 0) {
        throw new Error(
          `program ${p.name}: line info must start at its first instruction (the kernel requires one per function start)`,
        );
      }
      let prev = -1;
      for (const l of lines) {
        if (l.insnIndex <= prev)
          throw new Error(`program ${p.name}: two line info records for slot ${l.insnIndex}`);
        if (l.insnIndex >= nSlots || bytes[base + l.insnIndex * 8] === 0)
          throw new Error(
            `program ${p.name}: line info at slot ${l.insnIndex} is not an instruction start`,
          );
        prev = l.insnIndex;
        const file = l.file ?? spec.sourcePath;
        if (!file) throw new Error(`program ${p.name}: line info without a file name`);
        ext.addLineInfo(secName, {
          insnOff: base + l.insnIndex * 8,
          file,
          lineText: l.lineText,
          line: l.line,
          col: l.col,
        });
      }
    }
  }
}

type CodeSections = Map<string, { sec: ElfSection; bytes: Uint8Array; progs: ProgramSpec[] }>;

/** Code sections: .text first, then the others in order of appearance (clang's order). */
function addCodeSections(
  elf: ElfWriter,
  spec: ObjectSpec,
): { codeSections: CodeSections; progOffset: Map<ProgramSpec, number> } {
  const sectionNames = [...new Set(spec.programs.map((p) => p.section))].sort((a, b) =>
    a === ".text" ? -1 : b === ".text" ? 1 : 0,
  );
  const progOffset = new Map<ProgramSpec, number>();
  const codeSections: CodeSections = new Map();
  const names = new Set<string>();
  for (const name of sectionNames) {
    const progs = spec.programs.filter((p) => p.section === name);
    let off = 0;
    for (const p of progs) {
      if (p.insns.length % 8 !== 0 || p.insns.length === 0)
        throw new Error(`program ${p.name}: instruction bytes must be a non-empty multiple of 8`);
      if (names.has(p.name)) throw new Error(`duplicate function name ${p.name}`);
      names.add(p.name);
      progOffset.set(p, off);
      off += p.insns.length;
    }
    const bytes = new Uint8Array(off);
    for (const p of progs) bytes.set(p.insns, progOffset.get(p)!);
    const sec = elf.addSection({
      name,
      type: SHT_PROGBITS,
      flags: SHF_ALLOC | SHF_EXECINSTR,
      data: bytes,
      align: 8,
    });
    elf.addSymbol({ name, value: 0, size: 0, type: STT_SECTION, bind: STB_LOCAL, section: sec });
    codeSections.set(name, { sec, bytes, progs });
  }
  return { codeSections, progOffset };
}

/** Global variables, grouped per section and laid out in declaration order. */
function addDataSections(
  elf: ElfWriter,
  spec: ObjectSpec,
): {
  dataSections: { name: string; sec: ElfSection; vars: GlobalSpec[] }[];
  varLayout: Map<GlobalSpec, number>;
} {
  const globals = spec.globals ?? [];
  const varLayout = new Map<GlobalSpec, number>();
  const dataSections: { name: string; sec: ElfSection; vars: GlobalSpec[] }[] = [];
  for (const secName of [".rodata", ".bss", ".data"] as const) {
    const vars = globals.filter((g) => g.section === secName);
    if (!vars.length) continue;
    let size = 0;
    let align = 1;
    for (const g of vars) {
      const a = alignOf(g.type);
      align = Math.max(align, a);
      size = Math.ceil(size / a) * a;
      varLayout.set(g, size);
      size += sizeOf(g.type);
    }
    const data = new Uint8Array(size);
    for (const g of vars) {
      if (!g.bytes) continue;
      if (g.bytes.length !== sizeOf(g.type))
        throw new Error(
          `global ${g.name}: ${g.bytes.length} initial bytes for a ${sizeOf(g.type)}-byte type`,
        );
      if (secName === ".bss" && g.bytes.some((b) => b !== 0))
        throw new Error(`global ${g.name}: .bss variables start zeroed`);
      data.set(g.bytes, varLayout.get(g)!);
    }
    const sec = elf.addSection({
      name: secName,
      type: secName === ".bss" ? SHT_NOBITS : SHT_PROGBITS,
      flags: secName === ".rodata" ? SHF_ALLOC : SHF_ALLOC | SHF_WRITE,
      data,
      align,
    });
    // Section symbol: the target of section-relative references (lddw imm = byte offset), as clang uses for statics.
    elf.addSymbol({
      name: secName,
      value: 0,
      size: 0,
      type: STT_SECTION,
      bind: STB_LOCAL,
      section: sec,
    });
    dataSections.push({ name: secName, sec, vars });
  }
  return { dataSections, varLayout };
}

/** BTF-defined maps: each an anonymous struct of pointer members in .maps. */
function addMapsSection(
  elf: ElfWriter,
  btf: BtfBuilder,
  types: BtfTypes,
  spec: ObjectSpec,
): {
  maps: MapSpec[];
  mapsSec: ElfSection | undefined;
  mapOffsets: Map<MapSpec, { off: number; size: number; varId: number }>;
} {
  const maps = spec.maps ?? [];
  let mapsSec: ElfSection | undefined;
  const mapOffsets = new Map<MapSpec, { off: number; size: number; varId: number }>();
  if (maps.length) {
    let off = 0;
    const layouts = maps.map((m) => {
      const st = mapStruct(types, m);
      const l = { off, size: st.size, varId: btf.addVar(m.name, st.id, "global") };
      off += st.size;
      return l;
    });
    maps.forEach((m, i) => mapOffsets.set(m, layouts[i]!));
    mapsSec = elf.addSection({
      name: ".maps",
      type: SHT_PROGBITS,
      flags: SHF_ALLOC | SHF_WRITE,
      data: new Uint8Array(off),
      align: 8,
    });
  }
  return { maps, mapsSec, mapOffsets };
}

/** The anonymous struct libbpf reads a BTF-defined map from (`__uint`/`__type` members). */
function mapStruct(types: BtfTypes, m: MapSpec): { id: number; size: number } {
  const b = types.btf;
  const int = types.id(cInt);
  const uint = (n: number) => b.addPtr(b.addArray(int, types.indexType(), n));
  const members: { name: string; type: number }[] = [{ name: "type", type: uint(m.type) }];
  if (m.key) members.push({ name: "key", type: b.addPtr(types.id(m.key)) });
  else if (m.keySize !== undefined) members.push({ name: "key_size", type: uint(m.keySize) });
  if (m.value) members.push({ name: "value", type: b.addPtr(types.id(m.value)) });
  else if (m.valueSize !== undefined) members.push({ name: "value_size", type: uint(m.valueSize) });
  members.push({ name: "max_entries", type: uint(m.maxEntries) });
  if (m.flags) members.push({ name: "map_flags", type: uint(m.flags) });
  if (m.pinning) members.push({ name: "pinning", type: uint(m.pinning) });
  const size = members.length * 8;
  return {
    id: b.addStruct(
      "",
      size,
      members.map((x, i) => ({ ...x, bitOffset: i * 64 })),
    ),
    size,
  };
}

// ---------------------------------------------------------------- reading

export interface ObjectRelocation {
  /** Slot index within the program. */
  insnIndex: number;
  kind: "map" | "data" | "call";
  /** The ELF symbol named by the relocation (a section name for static targets). */
  symbol: string;
  /** map name, global variable name (if one matches), or called function name. */
  target: string;
  /** data: byte offset into the target section (symbol value + lddw imm). */
  offset?: number;
  /** data: the section the address points into. */
  section?: string;
}

export interface ObjectProgram {
  name: string;
  section: string;
  /** Byte offset in the section. */
  offset: number;
  insns: Uint8Array;
  global: boolean;
  relocations: ObjectRelocation[];
  /** From .BTF.ext, slot indexes relative to the program. */
  lineInfo: { insnIndex: number; file: string; line: number; col: number; lineText: string }[];
  /** BTF FUNC id from func_info, if any. */
  btfFunc?: number;
}

export interface ObjectMap {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  pinning: number;
  /** BTF ids of key and value when declared with __type. */
  keyType?: number;
  valueType?: number;
  /** RingBuf: BTF id of the record type (the RECORD_TYPEDEF_PREFIX typedef), when present. */
  recordType?: number;
}

export interface ObjectGlobal {
  name: string;
  section: string;
  offset: number;
  size: number;
  /** Initial bytes (zeros for .bss). */
  bytes: Uint8Array;
  /** BTF VAR's type id, when there is BTF. */
  btfType?: number;
}

/** A program's run config as libxdp 1.3 reads it from `.xdp_run_config` (ours or clang's). */
export interface ObjectRunConfig {
  program: string;
  /** The declared priority, or libxdp's default 50. */
  priority: number;
  /** The XDP actions after which the dispatcher runs the next program, ascending (default [XDP_PASS]). */
  chainCallActions: number[];
}

/** libxdp's defaults for a program without a run config (XDP_DEFAULT_RUN_PRIO, XDP_PASS). */
export const RUN_CONFIG_DEFAULTS = { priority: 50, chainCallActions: [XDP_PASS] } as const;

export interface ObjectInfo {
  elf: ElfFile;
  license: string;
  programs: ObjectProgram[];
  maps: ObjectMap[];
  globals: ObjectGlobal[];
  /** Programs with a run config (libxdp's XDP_RUN_CONFIG), in `.xdp_run_config` order. */
  runConfigs: ObjectRunConfig[];
  btf?: Btf;
  btfExt?: BtfExt;
}

/** The kernel's largest array-map value (KMALLOC_MAX_SIZE is 4 MiB on x86_64); data sections become one. */
const MAX_DATA_SECTION = 1 << 22;

const DATA_SECTION = /^\.(rodata|data|bss)(\..*)?$/;

export function readObject(bytes: Uint8Array): ObjectInfo {
  const elf = parseElf(bytes);
  const btfSec = elf.section(".BTF");
  const btf = btfSec ? parseBtf(btfSec.data) : undefined;
  const extSec = elf.section(".BTF.ext");
  const btfExt = btf && extSec ? parseBtfExt(extSec.data, btf) : undefined;
  const licSec = elf.section("license");
  const license = licSec ? new TextDecoder().decode(licSec.data).replace(/\0.*$/s, "") : "";

  const programs: ObjectProgram[] = [];
  const funcs = elf.symbols.filter(
    (s) => s.type === STT_FUNC && s.section && (elf.sections[s.shndx]!.flags & SHF_EXECINSTR) !== 0,
  );
  for (const s of funcs) {
    const sec = elf.sections[s.shndx]!;
    let size = s.size;
    if (!size) {
      const next = funcs
        .filter((f) => f.shndx === s.shndx && f.value > s.value)
        .map((f) => f.value);
      size = (next.length ? Math.min(...next) : sec.size) - s.value;
    }
    programs.push({
      name: s.name,
      section: sec.name,
      offset: s.value,
      insns: sec.data.subarray(s.value, s.value + size),
      global: s.bind !== STB_LOCAL,
      relocations: [],
      lineInfo: [],
    });
  }
  const progAt = (section: string, off: number) =>
    programs.find(
      (p) => p.section === section && off >= p.offset && off < p.offset + p.insns.length,
    );

  for (const rs of elf.relocations) {
    const target = elf.sections[rs.targetIndex];
    if (!target || (target.flags & SHF_EXECINSTR) === 0) continue;
    for (const r of rs.entries) {
      const p = progAt(target.name, r.offset);
      if (!p) continue;
      const sym = elf.symbols[r.symbol]!;
      const slot = (r.offset - p.offset) / 8;
      const imm = new DataView(target.data.buffer, target.data.byteOffset).getInt32(
        r.offset + 4,
        true,
      );
      if (r.type === R_BPF_64_32) {
        const dest = sym.value + (imm + 1) * 8;
        const callee = programs.find((q) => q.section === sym.section && q.offset === dest);
        p.relocations.push({
          insnIndex: slot,
          kind: "call",
          symbol: sym.name,
          target: callee?.name ?? `${sym.section}+${dest}`,
        });
      } else if (r.type === R_BPF_64_64) {
        if (sym.section === ".maps") {
          p.relocations.push({ insnIndex: slot, kind: "map", symbol: sym.name, target: sym.name });
        } else {
          const offset = sym.value + imm;
          const v = elf.symbols.find(
            (g) =>
              g.type === STT_OBJECT &&
              g.section === sym.section &&
              offset >= g.value &&
              offset < g.value + Math.max(1, g.size),
          );
          p.relocations.push({
            insnIndex: slot,
            kind: "data",
            symbol: sym.name,
            target: v?.name ?? sym.name,
            offset,
            section: sym.section,
          });
        }
      }
    }
  }
  for (const p of programs) p.relocations.sort((a, b) => a.insnIndex - b.insnIndex);

  if (btfExt) {
    for (const blk of btfExt.funcInfo) {
      for (const r of blk.records) {
        const p = programs.find((q) => q.section === blk.section && q.offset === r.insnOff);
        if (p) p.btfFunc = r.typeId;
      }
    }
    for (const blk of btfExt.lineInfo) {
      for (const r of blk.records) {
        const p = progAt(blk.section, r.insnOff);
        if (p)
          p.lineInfo.push({
            insnIndex: (r.insnOff - p.offset) / 8,
            file: r.file,
            line: r.line,
            col: r.col,
            lineText: r.lineText,
          });
      }
    }
  }

  const globals: ObjectGlobal[] = [];
  for (const s of elf.symbols) {
    if (s.type !== STT_OBJECT || !s.section || !DATA_SECTION.test(s.section)) continue;
    const sec = elf.sections[s.shndx]!;
    // A symbol must lie inside its section: a corrupt size would otherwise make us
    // allocate (and print) gigabytes for one variable.
    if (s.value + s.size > sec.size)
      throw new Error(
        `symbol ${s.name} (${s.value}+${s.size}) overruns section ${sec.name} of ${sec.size} bytes`,
      );
    if (sec.type === SHT_NOBITS && sec.size > MAX_DATA_SECTION)
      throw new Error(`section ${sec.name} of ${sec.size} bytes exceeds ${MAX_DATA_SECTION} bytes`);
    const data =
      sec.type === SHT_NOBITS ? new Uint8Array(s.size) : sec.data.slice(s.value, s.value + s.size);
    const g: ObjectGlobal = {
      name: s.name,
      section: sec.name,
      offset: s.value,
      size: s.size,
      bytes: data,
    };
    const v = btf?.types.find((t) => t.kind === Kind.VAR && t.name === s.name);
    if (v && v.kind === Kind.VAR) g.btfType = v.type;
    globals.push(g);
  }

  const maps = btf ? readMaps(elf, btf) : [];
  const runConfigs = btf ? readRunConfigs(btf) : [];
  return { elf, license, programs, maps, globals, runConfigs, btf, btfExt };
}

/**
 * The run configs, read as libxdp's xdp_program__parse_btf reads them: each VAR `_<prog>`
 * of the `.xdp_run_config` DATASEC is a struct whose `priority` and `XDP_<ACTION>` members
 * are `int (*)[N]`, N the value (an action chains when N is non-zero). Members libxdp
 * would refuse are skipped here.
 */
export function readRunConfigs(btf: Btf): ObjectRunConfig[] {
  const sec = btf.types.find((t) => t.kind === Kind.DATASEC && t.name === RUN_CONFIG_SECTION);
  if (!sec || sec.kind !== Kind.DATASEC) return [];
  const out: ObjectRunConfig[] = [];
  for (const vi of sec.vars) {
    const v = btf.byId(vi.type);
    if (!v || v.kind !== Kind.VAR || !v.name.startsWith("_")) continue;
    const st = btfResolve(btf, v.type);
    if (!st || st.kind !== Kind.STRUCT) continue;
    let priority: number = RUN_CONFIG_DEFAULTS.priority;
    let mask = 1 << XDP_PASS;
    for (const mem of st.members) {
      const ptr = btfResolve(btf, mem.type);
      const arr = ptr?.kind === Kind.PTR ? btf.byId(ptr.type) : undefined;
      if (!arr || arr.kind !== Kind.ARRAY) continue;
      const act = (XDP_ACTION_NAMES as readonly string[]).indexOf(mem.name);
      if (mem.name === "priority") priority = arr.nelems;
      else if (act >= 0) mask = arr.nelems ? mask | (1 << act) : mask & ~(1 << act);
    }
    const chainCallActions = XDP_ACTION_NAMES.map((_, i) => i).filter((i) => mask & (1 << i));
    out.push({ program: v.name.slice(1), priority, chainCallActions });
  }
  return out;
}

function readMaps(elf: ElfFile, btf: Btf): ObjectMap[] {
  const sec = btf.types.find((t) => t.kind === Kind.DATASEC && t.name === ".maps");
  if (!sec || sec.kind !== Kind.DATASEC) return [];
  const maps: ObjectMap[] = [];
  for (const vi of sec.vars) {
    const v = btf.byId(vi.type);
    if (!v || v.kind !== Kind.VAR) continue;
    const st = btfResolve(btf, v.type);
    if (!st || st.kind !== Kind.STRUCT) throw new Error(`map ${v.name}: BTF type is not a struct`);
    const m: ObjectMap = {
      name: v.name,
      type: 0,
      keySize: 0,
      valueSize: 0,
      maxEntries: 0,
      flags: 0,
      pinning: 0,
    };
    for (const mem of st.members) {
      const ptr = btfResolve(btf, mem.type);
      if (!ptr || ptr.kind !== Kind.PTR)
        throw new Error(`map ${v.name}: member ${mem.name} is not a pointer`);
      const uint = () => {
        const arr = btfResolve(btf, ptr.type);
        if (!arr || arr.kind !== Kind.ARRAY)
          throw new Error(`map ${v.name}: member ${mem.name} is not __uint()`);
        return arr.nelems;
      };
      switch (mem.name) {
        case "type":
          m.type = uint();
          break;
        case "max_entries":
          m.maxEntries = uint();
          break;
        case "map_flags":
          m.flags = uint();
          break;
        case "pinning":
          m.pinning = uint();
          break;
        case "key_size":
          m.keySize = uint();
          break;
        case "value_size":
          m.valueSize = uint();
          break;
        case "key":
          m.keyType = ptr.type;
          m.keySize = btfSizeOf(btf, ptr.type);
          break;
        case "value":
          m.valueType = ptr.type;
          m.valueSize = btfSizeOf(btf, ptr.type);
          break;
      }
    }
    const rec = btf.types.find(
      (t) => t.kind === Kind.TYPEDEF && t.name === RECORD_TYPEDEF_PREFIX + m.name,
    );
    if (rec) m.recordType = rec.id;
    maps.push(m);
  }
  // Report maps in .maps order (DATASEC offsets may be zero in clang output; symbols are not).
  const pos = (name: string) =>
    elf.symbols.find((s) => s.name === name && s.section === ".maps")?.value ?? 0;
  return maps.sort((a, b) => pos(a.name) - pos(b.name));
}
