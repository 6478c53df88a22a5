// `xdpc manifest`: the bpfman-operator custom resource that loads one XDP or tc
// program of a bytecode image (`xdpc image build`) on a cluster's nodes, with
// load-time parameters (`--set`) as bpfman's global data.
import { Option, type Command } from "commander";
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { readObject, type ObjectInfo } from "../../compiler/elf/object.ts";
import { programType } from "../deploy/labels.ts";
import {
  KIND_NAMES,
  MANIFEST_KINDS,
  actionNames,
  buildManifest,
  canonicalAction,
  type InterfaceSelector,
  type ManifestKind,
  type ProgramKind,
} from "../deploy/manifest.ts";
import { parseReference } from "../deploy/oci.ts";
import { toYaml } from "../deploy/yaml.ts";
import { applyParams, paramsOf, splitAssignment } from "../load/params.ts";
import { CliError, EXIT } from "./errors.ts";
import { objectOf } from "./object.ts";
import type { Format } from "./report.ts";
import { formatOption } from "./shared.ts";
import type { CommandImpl } from "./types.ts";

const collect = (v: string, prev: string[]) => [...prev, v];

interface ManifestOpts {
  image: string;
  kind: ManifestKind;
  name?: string;
  namespace?: string;
  program?: string;
  ifaceSelector: string;
  priority?: string;
  proceedOn: string[];
  direction?: "ingress" | "egress";
  nodeSelector: string[];
  podSelector: string[];
  podNamespace?: string;
  set: string[];
  pullPolicy?: "Always" | "Never" | "IfNotPresent";
  output?: string;
  json?: boolean;
  format: Format;
}

const usage = (msg: string) => new CliError(msg, EXIT.usage);

/** `name:tag` (tag default latest) or `name@sha256:…`, as the resource's image URL. */
export function imageUrl(ref: string): string {
  const at = ref.indexOf("@");
  if (at >= 0) {
    const digest = ref.slice(at + 1);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new Error(`'${digest}' is not a sha256 digest (sha256: and 64 lower-case hex digits)`);
    const r = parseReference(ref.slice(0, at));
    if (ref.slice(0, at).endsWith(`:${r.tag}`)) return `${r.name}:${r.tag}@${digest}`;
    return `${r.name}@${digest}`;
  }
  const r = parseReference(ref);
  return `${r.name}:${r.tag}`;
}

/** A DNS-1123 subdomain, as Kubernetes requires of object names. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A label key (optional DNS prefix and `/`) and value, as Kubernetes validates them. */
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;

export function defaultResourceName(file: string): string {
  return basename(file)
    .replace(/\.([cm]?tsx?|o)$/, "")
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
}

function labels(option: string, items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of items) {
    const kv = splitAssignment(s);
    if (!kv) throw usage(`${option} expects key=value, got '${s}'`);
    const [k, v] = kv;
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
    const name = k.slice(slash + 1);
    if (
      (prefix !== undefined && (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)) ||
      !LABEL_NAME.test(name) ||
      name.length > 63
    )
      throw usage(`${option}: '${k}' is not a Kubernetes label key`);
    if (v !== "" && (!LABEL_NAME.test(v) || v.length > 63))
      throw usage(`${option}: '${v}' is not a Kubernetes label value`);
    out[k] = v;
  }
  return out;
}

const IFNAME = /^[^\s/:]{1,15}$/;

export function parseInterfaceSelector(text: string): InterfaceSelector {
  const s = text.trim();
  if (s === "primary") return { primary: true };
  if (s === "discover") return { discover: true };
  const names = s.split(",").map((n) => n.trim());
  for (const n of names)
    if (!IFNAME.test(n) || n === "primary" || n === "discover")
      throw usage(
        `--iface-selector: '${n}' is not an interface name (primary, discover, or a comma-separated list of names)`,
      );
  return { interfaces: [...new Set(names)] };
}

function pickProgram(
  info: ObjectInfo,
  file: string,
  wanted: string | undefined,
): { name: string; type: ProgramKind } {
  const progs = info.programs
    .filter((p) => p.global)
    .map((p) => ({ name: p.name, type: programType(p.section) }))
    .filter((p): p is { name: string; type: ProgramKind } => p.type === "xdp" || p.type === "tc");
  const list = progs.map((p) => `${p.name} (${p.type})`).join(", ") || "none";
  if (wanted) {
    const p = progs.find((q) => q.name === wanted);
    if (!p) throw usage(`'${file}' has no XDP or tc program '${wanted}' (programs: ${list})`);
    return p;
  }
  if (progs.length === 0)
    throw new CliError(`'${file}' has no XDP or tc program (no function in a section xdp or tc)`);
  if (progs.length > 1)
    throw usage(`'${file}' has ${progs.length} programs (${list}); choose one with --program`);
  return progs[0]!;
}

export const manifestCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<file>", "filter source (.ts) or eBPF object (.o) that the image holds")
      .requiredOption(
        "--image <ref>",
        "the bytecode image (xdpc image build), e.g. quay.io/me/dns-policy:v1 or NAME@sha256:…",
      )
      .requiredOption(
        "--iface-selector <sel>",
        "interfaces on each node: primary (the node's primary interface), discover, or eth0,eth1",
      )
      .option(
        "--priority <n>",
        "order among programs on an interface, 0..1000 (lower first); default: the program's runConfig",
      )
      .addOption(
        new Option(
          "--kind <kind>",
          "cluster: ClusterBpfApplication; application: BpfApplication (namespaced); xdp/tc: XdpProgram/TcProgram (operator 0.5)",
        )
          .choices(MANIFEST_KINDS as string[])
          .default("cluster"),
      )
      .option(
        "--proceed-on <actions>",
        "verdicts after which the dispatcher runs the next program, e.g. pass,dispatcher_return (repeatable)",
        collect,
        [] as string[],
      )
      .addOption(
        new Option("--direction <dir>", "tc programs: the hook").choices(["ingress", "egress"]),
      )
      .option(
        "-s, --set <name=value>",
        "a load-time parameter, as global data (repeatable)",
        collect,
        [] as string[],
      )
      .option("--name <name>", "metadata.name (default from FILE: dns_policy.ts → dns-policy)")
      .option("--namespace <ns>", "metadata.namespace (--kind application)")
      .option("-p, --program <name>", "the program, when the object has several")
      .option(
        "--node-selector <key=value>",
        "nodes to load on (repeatable; default all)",
        collect,
        [] as string[],
      )
      .option(
        "--pod-selector <key=value>",
        "attach inside the network namespaces of these pods (repeatable)",
        collect,
        [] as string[],
      )
      .option("--pod-namespace <ns>", "the pods' Kubernetes namespace (--kind cluster, xdp, tc)")
      .addOption(
        new Option("--pull-policy <policy>", "imagePullPolicy").choices([
          "Always",
          "Never",
          "IfNotPresent",
        ]),
      )
      .option("-o, --output <file>", "write the resource to a file instead of stdout")
      .option("--json", "write JSON instead of YAML")
      .addOption(formatOption());
  },
  async run(cmd, args) {
    const file = args[0] as string;
    const o = cmd.opts() as ManifestOpts;
    let image: string;
    try {
      image = imageUrl(o.image);
    } catch (e) {
      throw usage(`--image: ${(e as Error).message}`);
    }
    if (o.priority !== undefined && (!/^\d+$/.test(o.priority) || Number(o.priority) > 1000))
      throw usage(`--priority must be an integer 0..1000, got '${o.priority}'`);
    const name = o.name ?? defaultResourceName(file);
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253)
      throw usage(
        `'${name}' is not a Kubernetes object name (lower-case letters, digits, '-' and '.'): give --name`,
      );
    if (o.namespace !== undefined && (!DNS_LABEL.test(o.namespace) || o.namespace.length > 63))
      throw usage(`--namespace: '${o.namespace}' is not a Kubernetes namespace name`);
    if (o.namespace !== undefined && o.kind !== "application")
      throw usage(
        `--namespace: a ${KIND_NAMES[o.kind]} is cluster-scoped (--kind application is namespaced)`,
      );
    if (o.podNamespace !== undefined && o.kind === "application")
      throw usage("--pod-namespace: a BpfApplication selects pods in its own namespace");
    const interfaces = parseInterfaceSelector(o.ifaceSelector);
    const nodeSelector = labels("--node-selector", o.nodeSelector);
    const podSelector = o.podSelector.length ? labels("--pod-selector", o.podSelector) : undefined;
    if (o.podNamespace !== undefined && podSelector === undefined)
      throw usage("--pod-namespace needs --pod-selector");

    const bytes = objectOf(file, { format: o.format });
    if (!bytes) return EXIT.failed;
    let info: ObjectInfo;
    try {
      info = readObject(bytes);
    } catch (e) {
      throw new CliError(`${file}: not a valid eBPF object: ${(e as Error).message}`);
    }
    const program = pickProgram(info, file, o.program);
    if (!/^[a-zA-Z][a-zA-Z0-9_]+./.test(program.name) || program.name.length > 64)
      throw new CliError(
        `program name '${program.name}' does not fit bpfman's program names (a letter, then at least two letters, digits or '_'; at most 64)`,
      );
    if (program.type === "tc" && !o.direction)
      throw usage(`'${program.name}' is a tc program: give --direction ingress or egress`);
    if (program.type === "xdp" && o.direction)
      throw usage(`--direction: '${program.name}' is an XDP program (XDP has no direction)`);
    if ("discover" in interfaces && (o.kind === "xdp" || o.kind === "tc"))
      throw usage(
        `--iface-selector discover needs the current API (--kind cluster or application)`,
      );

    // Without --priority / --proceed-on, the program's run config (XDP_RUN_CONFIG, the
    // filter's `runConfig`) gives them, as libxdp would read it on a single host.
    const runConfig =
      program.type === "xdp" ? info.runConfigs.find((r) => r.program === program.name) : undefined;
    let priority: number;
    if (o.priority !== undefined) priority = Number(o.priority);
    else if (runConfig) priority = runConfig.priority;
    else
      throw usage(
        `give --priority: '${program.name}' has no run config (declare \`export const runConfig = { priority: … }\` in the filter)`,
      );
    const proceedOn: string[] = [];
    for (const a of o.proceedOn.flatMap((s) => s.split(",")).filter((s) => s.trim())) {
      const c = canonicalAction(program.type, a);
      if (!c)
        throw usage(
          `--proceed-on: '${a.trim()}' is not a ${program.type === "xdp" ? "XDP" : "tc"} action (${actionNames(program.type).join(", ")})`,
        );
      if (!proceedOn.includes(c)) proceedOn.push(c);
    }
    if (!proceedOn.length && runConfig) {
      // libxdp's dispatcher always proceeds on its own XDP_DISPATCHER_RETVAL as well.
      for (const a of runConfig.chainCallActions) proceedOn.push(actionNames("xdp")[a]!);
      proceedOn.push("dispatcher_return");
    }

    const sets: Record<string, string> = {};
    for (const s of o.set) {
      const kv = splitAssignment(s);
      if (!kv) throw usage(`--set expects name=value, got '${s}'`);
      sets[kv[0]] = kv[1];
    }
    const rodata = info.elf.section(".rodata")?.data ?? new Uint8Array(0);
    const defs = paramsOf(info.btf, rodata, info.globals);
    const applied = applyParams(defs, rodata, sets);
    if ("error" in applied) throw usage(`--set: ${applied.error}`);
    const globalData: Record<string, Uint8Array> = {};
    for (const k of Object.keys(sets)) {
      const d = defs.find((p) => p.name === k)!;
      globalData[k] = applied.bytes.slice(d.offset, d.offset + d.size);
    }

    let resource;
    try {
      resource = buildManifest({
        kind: o.kind,
        name,
        namespace: o.namespace,
        image,
        pullPolicy: o.pullPolicy,
        program,
        interfaces,
        priority,
        proceedOn: proceedOn.length ? proceedOn : undefined,
        direction: o.direction,
        nodeSelector,
        podSelector,
        podNamespace: o.podNamespace,
        globalData,
      });
    } catch (e) {
      throw usage((e as Error).message);
    }
    const text = o.json ? JSON.stringify(resource, null, 2) + "\n" : toYaml(resource);
    if (o.output) {
      try {
        writeFileSync(o.output, text);
      } catch (e) {
        throw new CliError(`cannot write '${o.output}': ${(e as Error).message}`);
      }
      process.stderr.write(
        `${file} → ${o.output}: ${KIND_NAMES[o.kind]} ${name} (${program.name}, ${program.type})\n`,
      );
    } else process.stdout.write(text);
    return EXIT.ok;
  },
};
