import { Option, type Command } from "commander";
import { unloadFilter } from "../load/loader.ts";
import { unloadTc, type TcDirection } from "../load/tc.ts";
import type { CommandImpl } from "./types.ts";
import { EXIT } from "./errors.ts";
import { loaderFailure } from "./failure.ts";
import { note } from "./shared.ts";

export const unloadCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .requiredOption("-i, --iface <name>", "network interface")
      .addOption(
        new Option("--tc <direction>", "remove xdpc's tc program at ingress or egress").choices([
          "ingress",
          "egress",
        ]),
      )
      .option("--pin-root <dir>", "bpffs directory for pins (default /sys/fs/bpf/xdpc)");
  },
  async run(cmd) {
    const o = cmd.opts() as { iface: string; pinRoot?: string; tc?: TcDirection };
    if (!o.tc) {
      const { unloadMulti } = await import("../load/multi.ts");
      let m;
      try {
        m = unloadMulti(o.iface);
      } catch (e) {
        loaderFailure(e);
      }
      if (m) {
        const list = (ps: { name: string; id: number }[]) =>
          ps.map((p) => `${p.name} id ${p.id}`).join(", ") || "none";
        process.stdout.write(
          `${o.iface}: detached ${list(m.detached)} from libxdp's dispatcher; left ${list(m.others)}\n`,
        );
        return EXIT.ok;
      }
    }
    let r;
    try {
      r = o.tc
        ? unloadTc(o.iface, o.tc, { pinRoot: o.pinRoot })
        : unloadFilter(o.iface, { pinRoot: o.pinRoot });
    } catch (e) {
      loaderFailure(e);
    }
    for (const n of r.notices) note(n);
    // A killed `xdpc run` left its control socket: nothing answers there any more.
    if (!o.tc) await (await import("../xsk/control.ts")).removeStaleControl(o.iface);
    const progs = r.detached.map((d) => `id ${d.progId} (${d.mode})`).join(", ");
    process.stdout.write(
      `${o.iface}${o.tc ? ` ${o.tc}` : ""}: ${progs ? `detached ${progs}` : "nothing attached"}; removed ${r.removed.length} pin/state path${r.removed.length === 1 ? "" : "s"}\n`,
    );
    return EXIT.ok;
  },
};
