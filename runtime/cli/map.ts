// `xdpc map list|dump|get|set|delete`: typed access to the maps of the filter on an
// interface (or a map by id, or a pinned map), with JSON, dotted-address and CIDR values.
// While `xdpc run` runs on the interface, its handler's maps (in the workers' memory)
// are reached over its control socket, beside the XDP program's kernel maps.
import type { Command } from "commander";
import { objGet } from "../../native/info.ts";
import { findMap, mapTypeName, TypedMap, type ProgramMaps } from "../observe/maps.ts";
import { stringifyJson } from "../observe/values.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { cliFailure } from "./failure.ts";
import type { TcDirection } from "../../native/tc.ts";
import { openInterface, resolveIface, show, tcOption } from "./shared.ts";
import { ControlClient, type HandlerMap } from "../xsk/control.ts";

type AnyMap = TypedMap | HandlerMap;

interface MapOpts {
  iface?: string;
  tc?: TcDirection;
  id?: string;
  pinned?: string;
  json?: boolean;
  perCpu?: boolean;
  flags?: string;
}

const ACTIONS = ["list", "dump", "get", "set", "update", "delete"] as const;

export const mapCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<action>", `one of ${ACTIONS.join(", ")} (update = set)`)
      .argument("[name]", "map name (not with --id/--pinned)")
      .argument("[key]", "key: a number, a JSON object, a dotted IPv4 address or a CIDR prefix")
      .argument("[value]", "value (set): a number or a JSON object")
      .option(
        "-i, --iface <name>",
        "the interface whose XDP filter owns the map (default: the only one with XDP attached)",
      )
      .addOption(tcOption("maps of"))
      .option("--id <n>", "a map by kernel id instead of by interface and name")
      .option("--pinned <path>", "a map pinned on bpffs instead of by interface and name")
      .option("--per-cpu", "show per-CPU maps' values per CPU (dump/get)")
      .option("--flags <f>", "set: any (default), noexist or exist")
      .option("--json", "print JSON");
  },
  async run(cmd, args) {
    const [action, ...rest] = args.slice(0, 4) as [
      string,
      string | undefined,
      string | undefined,
      string | undefined,
    ];
    const o = cmd.opts() as MapOpts;
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new CliError(`unknown map action '${action}' (use ${ACTIONS.join(", ")})`, EXIT.usage);
    const direct = o.id !== undefined || o.pinned !== undefined;
    if (!direct) o.iface = resolveIface(o.iface, o.tc);
    // With --id/--pinned there is no name argument: shift the positionals.
    const pos = direct
      ? rest.filter((x): x is string => x !== undefined)
      : rest.slice(1).filter((x): x is string => x !== undefined);
    const name = direct ? undefined : rest[0];

    let pm: ProgramMaps | undefined;
    let own: TypedMap | undefined;
    let control: ControlClient | null = null;
    try {
      let maps: TypedMap[];
      let handlerMaps: HandlerMap[] = [];
      if (direct) {
        if (o.id !== undefined) {
          if (!/^\d+$/.test(o.id))
            throw new CliError(`--id expects a number, got '${o.id}'`, EXIT.usage);
          own = TypedMap.fromId(Number(o.id));
        } else {
          const fd = objGet(o.pinned!);
          own = TypedMap.fromFd(fd, { ownsFd: true });
        }
        maps = [own];
      } else {
        pm = openInterface(o.iface!, o.tc);
        maps = pm.maps;
        if (!o.tc) {
          control = await ControlClient.connect(o.iface!);
          if (control) handlerMaps = await control.maps();
        }
      }
      if (action === "list") return list(maps, handlerMaps, o, pm);
      const m: AnyMap | undefined =
        own ??
        (name ? (handlerMaps.find((x) => x.name === name) ?? findMap(maps, name)) : undefined);
      if (!m) {
        const have = [...handlerMaps, ...maps].map((x) => x.name).join(", ") || "none";
        throw new CliError(
          name
            ? `no map '${name}' in the filter on ${o.iface} (maps: ${have})`
            : "name a map (xdpc map list shows them)",
          EXIT.usage,
        );
      }
      return await run(action, m, pos, o);
    } catch (e) {
      if (e instanceof CliError) throw e;
      cliFailure(e);
    } finally {
      control?.close();
      pm?.close();
      own?.close();
    }
  },
};

function list(maps: TypedMap[], handler: HandlerMap[], o: MapOpts, pm?: ProgramMaps): number {
  const row = (m: AnyMap) => ({
    name: m.name,
    id: m.meta.id ?? 0,
    type: m.typeName,
    keySize: m.meta.keySize,
    valueSize: m.meta.valueSize,
    maxEntries: m.meta.maxEntries,
    perCpu: m.perCpu,
  });
  // Handler maps have no kernel id: `handler: true` (JSON) or "handler" (text) instead.
  const rows = [...maps.map(row), ...handler.map((m) => ({ ...row(m), handler: true as const }))];
  if (o.json) {
    process.stdout.write(
      stringifyJson(pm ? { program: pm.progName, progId: pm.progId, maps: rows } : { maps: rows }) +
        "\n",
    );
    return EXIT.ok;
  }
  if (pm) process.stdout.write(`${o.iface}: ${pm.progName} (id ${pm.progId})\n`);
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(16)} ${"handler" in r ? "handler  " : `id ${String(r.id).padEnd(6)}`} ${r.type.padEnd(16)} key ${r.keySize}B value ${r.valueSize}B max ${r.maxEntries}\n`,
    );
  return EXIT.ok;
}

function need(pos: string[], n: number, what: string): void {
  if (pos.length < n) throw new CliError(`missing ${what}`, EXIT.usage);
  if (pos.length > n) throw new CliError(`unexpected argument '${pos[n]}'`, EXIT.usage);
}

const FLAGS: Record<string, number> = { any: 0, noexist: 1, exist: 2 };

async function run(action: string, m: AnyMap, pos: string[], o: MapOpts): Promise<number> {
  const out = (v: unknown) =>
    process.stdout.write((typeof v === "string" ? v : stringifyJson(v)) + "\n");
  switch (action) {
    case "dump": {
      need(pos, 0, "");
      if (!m.iterable)
        throw new CliError(
          `map ${m.name} is a ${mapTypeName(m.meta.type)}: read it with xdpc events`,
          EXIT.usage,
        );
      const entries = "fd" in m ? [...m.entries()] : await m.entries();
      if (o.json) {
        out(entries.map((e) => (o.perCpu && e.perCpu ? e : { key: e.key, value: e.value })));
        return EXIT.ok;
      }
      for (const e of entries)
        out(
          `${show(e.key)}: ${show(e.value)}${o.perCpu && e.perCpu ? `  per CPU: ${stringifyJson(e.perCpu)}` : ""}`,
        );
      return EXIT.ok;
    }
    case "get": {
      need(pos, 1, "KEY");
      const key = m.key.parse(pos[0]!);
      const v = await m.get(key);
      if (v === null) throw new CliError(`no entry ${pos[0]} in map ${m.name}`, EXIT.failed);
      const per = o.perCpu && m.perCpu ? await m.getPerCpu(key) : null;
      if (o.json)
        out(
          per
            ? { key: m.key.decode(m.encodeKey(key)), value: v, perCpu: per }
            : { key: m.key.decode(m.encodeKey(key)), value: v },
        );
      else out(`${show(v)}${per ? `  per CPU: ${stringifyJson(per)}` : ""}`);
      return EXIT.ok;
    }
    case "set":
    case "update": {
      need(pos, 2, "KEY and VALUE");
      const flags = o.flags === undefined ? 0 : FLAGS[o.flags];
      if (flags === undefined)
        throw new CliError(`--flags expects any, noexist or exist, got '${o.flags}'`, EXIT.usage);
      await m.set(m.key.parse(pos[0]!), m.value.parse(pos[1]!), { flags });
      return EXIT.ok;
    }
    case "delete": {
      need(pos, 1, "KEY");
      if (!(await m.delete(m.key.parse(pos[0]!))))
        throw new CliError(`no entry ${pos[0]} in map ${m.name}`, EXIT.failed);
      return EXIT.ok;
    }
  }
  return EXIT.usage;
}
