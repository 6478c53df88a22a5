import type { Command } from "commander";
import { filterStatus } from "../load/loader.ts";
import type { CommandImpl } from "./types.ts";
import { EXIT } from "./errors.ts";

export const statusCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .option("--json", "print JSON")
      .option("--pin-root <dir>", "bpffs directory for pins (default /sys/fs/bpf/xdpc)");
  },
  async run(cmd) {
    const o = cmd.opts() as { json?: boolean; pinRoot?: string };
    const all = filterStatus(o.pinRoot);
    if (o.json) {
      process.stdout.write(JSON.stringify({ filters: all }, null, 2) + "\n");
      return EXIT.ok;
    }
    if (!all.length) {
      process.stdout.write("no XDP or tc programs attached\n");
      return EXIT.ok;
    }
    for (const s of all) {
      const origin = s.managed ? (s.source ? `from ${s.source}` : "xdpc") : "not loaded by xdpc";
      const params =
        s.params && Object.keys(s.params).length
          ? ` params ${Object.entries(s.params)
              .map(([k, v]) => `${k}=${v}`)
              .join(",")}`
          : "";
      process.stdout.write(
        `${s.iface}${s.hook ? ` ${s.hook.slice(3)}` : ""} (ifindex ${s.ifindex}): ${s.progName} id ${s.progId} ${s.mode} — ${origin}${params}\n`,
      );
      for (const p of s.dispatcher ?? [])
        process.stdout.write(
          `  dispatcher program ${p.name} id ${p.id} priority ${p.priority} chain ${p.chainCallActions.join(",") || "none"}\n`,
        );
      for (const m of s.maps) {
        process.stdout.write(
          `  map ${m.name} id ${m.id} ${m.typeName} key ${m.keySize}B value ${m.valueSize}B max ${m.maxEntries}${m.pinned ? ` pinned ${m.pinned}` : ""}\n`,
        );
      }
    }
    return EXIT.ok;
  },
};
