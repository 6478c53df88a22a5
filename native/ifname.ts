// Interface names and indexes in the caller's network namespace (libc's
// if_nametoindex/if_indextoname ask the kernel through a socket of the current
// netns, unlike /sys/class/net, which shows the namespace sysfs was mounted in).
import { koffi, library } from "./lib.ts";
import { sys } from "./sys.ts";

let api:
  | {
      nameToIndex: (name: string) => number;
      indexToName: (index: number, buf: Buffer) => unknown;
    }
  | undefined;

function bind() {
  if (api) return api;
  const libc = library("libc.so.6");
  api = {
    nameToIndex: libc.func("unsigned int if_nametoindex(const char *ifname)"),
    indexToName: libc.func("void *if_indextoname(unsigned int ifindex, _Out_ uint8_t *ifname)"),
  };
  return api;
}

/** The interface's index, or 0 when there is no such interface in this namespace. */
export const ifNameToIndex = sys("ifNameToIndex", function ifNameToIndex(name: string): number {
  if (name.length === 0 || name.length >= 16) return 0; // IFNAMSIZ
  return bind().nameToIndex(name) >>> 0;
});

/** The interface's name, or undefined when the index is unknown. */
export const ifIndexToName = sys("ifIndexToName", function ifIndexToName(index: number):
  string | undefined {
  const buf = Buffer.alloc(16);
  const p = bind().indexToName(index, buf);
  if (!p) return undefined;
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end < 0 ? 16 : end);
});

/** errno of the last failed libc call on this thread. */
export function errno(): number {
  return koffi().errno();
}
