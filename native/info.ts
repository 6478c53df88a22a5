// Kernel object introspection: program and map info by fd, fds by id, pins, and
// kernel run-time statistics. Info structs are decoded from raw buffers at the
// offsets of include/uapi/linux/bpf.h, so newer kernels' longer structs are fine.
import { check, koffi, library } from "./lib.ts";
import { sys } from "./sys.ts";

let api:
  | {
      infoByFd: (fd: number, info: Buffer, len: number[]) => number;
      progFdById: (id: number) => number;
      mapFdById: (id: number) => number;
      progNextId: (start: number, next: number[]) => number;
      objGet: (path: string) => number;
      objPin: (fd: number, path: string) => number;
      enableStats: (type: number) => number;
      address: (b: Buffer) => bigint;
    }
  | undefined;

function bind() {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  api = {
    infoByFd: bpf.func("int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *len)"),
    progFdById: bpf.func("int bpf_prog_get_fd_by_id(uint32_t id)"),
    mapFdById: bpf.func("int bpf_map_get_fd_by_id(uint32_t id)"),
    progNextId: bpf.func("int bpf_prog_get_next_id(uint32_t start, _Out_ uint32_t *next)"),
    objGet: bpf.func("int bpf_obj_get(const char *path)"),
    objPin: bpf.func("int bpf_obj_pin(int fd, const char *path)"),
    enableStats: bpf.func("int bpf_enable_stats(int type)"),
    address: (b: Buffer) => BigInt(k.address(b) as unknown as bigint),
  };
  return api;
}

export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  name: string;
  jitedLen: number; // bytes of JITed code
  xlatedInsns: number; // instructions after the verifier's rewrites
  loadTime: bigint;
  mapIds: number[];
  btfId: number;
  runTimeNs: bigint; // with kernel BPF stats enabled
  runCnt: bigint;
  verifiedInsns: number;
}

const PROG_INFO_SIZE = 232;

export const progInfo = sys("progInfo", function progInfo(fd: number): ProgInfo {
  const a = bind();
  const first = Buffer.alloc(PROG_INFO_SIZE);
  check(
    a.infoByFd(fd, first, [first.length]),
    "cannot read program info",
    "bpf_obj_get_info_by_fd",
  );
  const nMaps = first.readUInt32LE(52);
  const ids = Buffer.alloc(Math.max(4, nMaps * 4));
  const info = Buffer.alloc(PROG_INFO_SIZE);
  info.writeUInt32LE(nMaps, 52);
  info.writeBigUInt64LE(a.address(ids), 56);
  check(a.infoByFd(fd, info, [info.length]), "cannot read program info", "bpf_obj_get_info_by_fd");
  const name = info.subarray(64, 80);
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    tag: info.subarray(8, 16).toString("hex"),
    name: name.toString("utf8", 0, name.indexOf(0) < 0 ? 16 : name.indexOf(0)),
    jitedLen: info.readUInt32LE(16),
    xlatedInsns: info.readUInt32LE(20) / 8,
    loadTime: info.readBigUInt64LE(40),
    mapIds: Array.from({ length: Math.min(nMaps, info.readUInt32LE(52)) }, (_, i) =>
      ids.readUInt32LE(i * 4),
    ),
    btfId: info.readUInt32LE(128),
    runTimeNs: info.readBigUInt64LE(192),
    runCnt: info.readBigUInt64LE(200),
    verifiedInsns: info.readUInt32LE(216),
  };
});

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

export const mapInfo = sys("mapInfo", function mapInfo(fd: number): MapInfo {
  const a = bind();
  const info = Buffer.alloc(88);
  check(a.infoByFd(fd, info, [info.length]), "cannot read map info", "bpf_obj_get_info_by_fd");
  const name = info.subarray(24, 40);
  return {
    type: info.readUInt32LE(0),
    id: info.readUInt32LE(4),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
    flags: info.readUInt32LE(20),
    name: name.toString("utf8", 0, name.indexOf(0) < 0 ? 16 : name.indexOf(0)),
    btfId: info.readUInt32LE(64),
    btfKeyTypeId: info.readUInt32LE(68),
    btfValueTypeId: info.readUInt32LE(72),
  };
});

export const progFdById = sys("progFdById", function progFdById(id: number): number {
  return check(bind().progFdById(id), `no BPF program with id ${id}`, "bpf_prog_get_fd_by_id");
});

export const mapFdById = sys("mapFdById", function mapFdById(id: number): number {
  return check(bind().mapFdById(id), `no BPF map with id ${id}`, "bpf_map_get_fd_by_id");
});

/** Ids of every loaded program (for status and leak checks). */
export const allProgramIds = sys("allProgramIds", function allProgramIds(): number[] {
  const a = bind();
  const out: number[] = [];
  let id = 0;
  for (;;) {
    const next = [0];
    if (a.progNextId(id, next) < 0) break;
    id = next[0]!;
    out.push(id);
  }
  return out;
});

/** Opens a pinned object from bpffs. */
export const objGet = sys("objGet", function objGet(path: string): number {
  return check(bind().objGet(path), `cannot open pinned object ${path}`, "bpf_obj_get");
});

export const objPin = sys("objPin", function objPin(fd: number, path: string): void {
  check(bind().objPin(fd, path), `cannot pin at ${path}`, "bpf_obj_pin");
});

export const BPF_STATS_RUN_TIME = 0;

/**
 * Turns on the kernel's per-program run_cnt/run_time_ns accounting for as long as
 * the returned fd stays open (close it with closeFd from native/bpf.ts).
 */
export const enableRunTimeStats = sys("enableRunTimeStats", function enableRunTimeStats(): number {
  return check(
    bind().enableStats(BPF_STATS_RUN_TIME),
    "cannot enable BPF run-time stats",
    "bpf_enable_stats",
  );
});
