// `xdpc events --iface IF [MAP]`: stream the RingBuf records of the filter on an
// interface, decoded with the record type from the program's BTF.
import type { Command } from "commander";
import { EventReader, type RingEvent } from "../observe/events.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { cliFailure } from "./failure.ts";
import type { TcDirection } from "../../native/tc.ts";
import { openInterface, resolveIface, show, tcOption } from "./shared.ts";
import { stringifyJson } from "../observe/values.ts";

interface EventsOpts {
  iface?: string;
  tc?: TcDirection;
  json?: boolean;
  count?: string;
  timeout?: string;
}

/** `timeNs=1 src=198.18.0.5 …` for objects; the JSON text otherwise. */
export function formatEvent(e: RingEvent): string {
  const r = e.record;
  if (r && typeof r === "object" && !Array.isArray(r))
    return Object.entries(r)
      .map(([k, v]) => `${k}=${show(v)}`)
      .join(" ");
  return show(r);
}

export const eventsCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("[map]", "the RingBuf map (needed when the filter has several)")
      .option("-i, --iface <name>", "network interface (default: the only one with XDP attached)")
      .addOption(tcOption("events of"))
      .option("-f, --follow", "keep streaming (the default; accepted for familiarity)")
      .option("--json", "one JSON object per record")
      .option("-n, --count <n>", "stop after n records")
      .option("--timeout <ms>", "stop after this many milliseconds");
  },
  async run(cmd, args) {
    const want = args[0] as string | undefined;
    const opts = cmd.opts() as EventsOpts;
    const o = { ...opts, iface: resolveIface(opts.iface, opts.tc) };
    const count = o.count === undefined ? Infinity : Number(o.count);
    if (!(count >= 1))
      throw new CliError(`--count expects a positive number, got '${o.count}'`, EXIT.usage);
    const timeout = o.timeout === undefined ? undefined : Number(o.timeout);
    if (timeout !== undefined && !(timeout > 0))
      throw new CliError(`--timeout expects milliseconds, got '${o.timeout}'`, EXIT.usage);

    const pm = openInterface(o.iface, o.tc);
    let reader: EventReader;
    try {
      const rings = pm.maps.filter((m) => m.typeName === "ringbuf");
      const ring = want
        ? rings.find((m) => m.name === want || (want.length > 15 && m.name === want.slice(0, 15)))
        : rings.length === 1
          ? rings[0]
          : undefined;
      if (!ring) {
        const names = rings.map((m) => m.name).join(", ");
        if (want)
          throw new CliError(
            `no ring buffer '${want}' in the filter on ${o.iface} (ring buffers: ${names || "none"})`,
            EXIT.usage,
          );
        throw new CliError(
          rings.length
            ? `the filter on ${o.iface} has several ring buffers (${names}): name one`
            : `the filter on ${o.iface} has no ring buffer`,
          EXIT.usage,
        );
      }
      reader = EventReader.fromId(ring.meta.id!, pm.progId);
    } catch (e) {
      if (e instanceof CliError) throw e;
      cliFailure(e);
    } finally {
      pm.close();
    }
    if (!reader.codec)
      process.stderr.write(
        "xdpc: note: no record type in the program's BTF; records are shown as hex bytes\n",
      );
    let seen = 0;
    await new Promise<void>((resolve) => {
      const done = () => {
        reader.close();
        resolve();
      };
      reader.on("event", (e: RingEvent) => {
        if (seen >= count) return;
        seen++;
        process.stdout.write((o.json ? stringifyJson(e.record) : formatEvent(e)) + "\n");
        if (seen >= count) done();
      });
      reader.on("error", (e: Error) => {
        process.stderr.write(`xdpc: error: ${e.message}\n`);
        done();
      });
      reader.on("close", () => {
        process.off("SIGINT", done);
        process.off("SIGTERM", done);
        if (timer) clearTimeout(timer);
        resolve();
      });
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
      const timer = timeout === undefined ? undefined : setTimeout(done, timeout);
      reader.start();
    });
    return EXIT.ok;
  },
};
