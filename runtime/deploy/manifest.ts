// bpfman-operator custom resources for one program of a bytecode image: the current
// API (ClusterBpfApplication, BpfApplication: operator 0.6 and later) and the
// per-type resources of operator 0.5 (XdpProgram, TcProgram). Pure data: the caller
// reads the object and the options; this module only shapes the resource, with the
// field spellings and enums of the CRD schemas kept in test/deploy/crds.
import type { YamlValue } from "./yaml.ts";

export const API_VERSION = "bpfman.io/v1alpha1";

/** `cluster` ClusterBpfApplication, `application` BpfApplication, `xdp` XdpProgram, `tc` TcProgram. */
export type ManifestKind = "cluster" | "application" | "xdp" | "tc";
export const MANIFEST_KINDS: readonly ManifestKind[] = ["cluster", "application", "xdp", "tc"];

export const KIND_NAMES: Readonly<Record<ManifestKind, string>> = {
  cluster: "ClusterBpfApplication",
  application: "BpfApplication",
  xdp: "XdpProgram",
  tc: "TcProgram",
};

export type ProgramKind = "xdp" | "tc";

export type InterfaceSelector =
  | { primary: true }
  | { interfaces: string[] }
  | { discover: true; allowed?: string[]; exclude?: string[] };

export interface ManifestInput {
  kind: ManifestKind;
  /** metadata.name (a DNS subdomain). */
  name: string;
  /** metadata.namespace: BpfApplication only. */
  namespace?: string;
  /** The image URL, `name:tag` or `name@sha256:…`. */
  image: string;
  pullPolicy?: "Always" | "Never" | "IfNotPresent";
  program: { name: string; type: ProgramKind };
  interfaces: InterfaceSelector;
  priority: number;
  /** Canonical action names (`pass`, `dispatcher_return`, `pipe`, …); omitted: the CRD default. */
  proceedOn?: string[];
  /** tc only. */
  direction?: "ingress" | "egress";
  nodeSelector: Record<string, string>;
  /** Pods whose network namespace the program attaches in (required by BpfApplication). */
  podSelector?: Record<string, string>;
  /** Kubernetes namespace of those pods (ClusterBpfApplication only). */
  podNamespace?: string;
  /** Global variables by name, their bytes as the object lays them out. */
  globalData: Record<string, Uint8Array>;
}

/** XDP actions: canonical name → the current API's spelling (the 0.5 API uses the canonical name). */
const XDP_ACTIONS: Readonly<Record<string, string>> = {
  aborted: "Aborted",
  drop: "Drop",
  pass: "Pass",
  tx: "TX",
  redirect: "ReDirect",
  dispatcher_return: "DispatcherReturn",
};

/** tc actions (TC_ACT_*), the same way. */
const TC_ACTIONS: Readonly<Record<string, string>> = {
  unspec: "UnSpec",
  ok: "OK",
  reclassify: "ReClassify",
  shot: "Shot",
  pipe: "Pipe",
  stolen: "Stolen",
  queued: "Queued",
  repeat: "Repeat",
  redirect: "ReDirect",
  trap: "Trap",
  dispatcher_return: "DispatcherReturn",
};

export function actionNames(type: ProgramKind): string[] {
  return Object.keys(type === "xdp" ? XDP_ACTIONS : TC_ACTIONS);
}

/**
 * An action as users write it (`pass`, `XDP_PASS`, `Pass`, `TC_ACT_OK`,
 * `DispatcherReturn`, `dispatcher-return`) → its canonical name, or undefined.
 */
export function canonicalAction(type: ProgramKind, text: string): string | undefined {
  let s = text
    .trim()
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/-/g, "_");
  s = s.replace(type === "xdp" ? /^xdp_/ : /^tc_act_/, "");
  if (s === "re_direct") s = "redirect";
  if (s === "re_classify") s = "reclassify";
  if (s === "un_spec") s = "unspec";
  return actionNames(type).includes(s) ? s : undefined;
}

const base64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function globals(g: Record<string, Uint8Array>): Record<string, string> | undefined {
  const keys = Object.keys(g).sort();
  return keys.length ? Object.fromEntries(keys.map((k) => [k, base64(g[k]!)])) : undefined;
}

const labelSelector = (m: Record<string, string>) =>
  Object.keys(m).length ? { matchLabels: m } : {};

function currentSelector(s: InterfaceSelector): YamlValue {
  if ("primary" in s) return { primaryNodeInterface: true };
  if ("interfaces" in s) return { interfaces: s.interfaces };
  return {
    interfacesDiscoveryConfig: {
      interfaceAutoDiscovery: true,
      allowedInterfaces: s.allowed,
      excludeInterfaces: s.exclude,
    },
  };
}

function legacySelector(s: InterfaceSelector): YamlValue {
  if ("primary" in s) return { primarynodeinterface: true };
  if ("interfaces" in s) return { interfaces: s.interfaces };
  throw new Error("interface discovery needs the current API (--kind cluster or application)");
}

function metadata(m: ManifestInput): YamlValue {
  return {
    name: m.name,
    namespace: m.kind === "application" ? m.namespace : undefined,
    labels: { "app.kubernetes.io/name": m.name },
  };
}

function currentResource(m: ManifestInput): YamlValue {
  const { type } = m.program;
  const actions = type === "xdp" ? XDP_ACTIONS : TC_ACTIONS;
  const netns =
    m.podSelector === undefined
      ? undefined
      : {
          namespace: m.kind === "cluster" ? m.podNamespace : undefined,
          pods: labelSelector(m.podSelector),
        };
  const link = {
    interfaceSelector: currentSelector(m.interfaces),
    priority: m.priority,
    direction: type === "tc" ? (m.direction === "egress" ? "Egress" : "Ingress") : undefined,
    proceedOn: m.proceedOn?.map((a) => actions[a]!),
    networkNamespaces: netns,
  };
  return {
    apiVersion: API_VERSION,
    kind: KIND_NAMES[m.kind],
    metadata: metadata(m),
    spec: {
      nodeSelector: labelSelector(m.nodeSelector),
      byteCode: { image: { url: m.image, imagePullPolicy: m.pullPolicy } },
      globalData: globals(m.globalData),
      programs: [{ name: m.program.name, type: type.toUpperCase(), [type]: { links: [link] } }],
    },
  };
}

function legacyResource(m: ManifestInput): YamlValue {
  return {
    apiVersion: API_VERSION,
    kind: KIND_NAMES[m.kind],
    metadata: metadata(m),
    spec: {
      bpffunctionname: m.program.name,
      nodeselector: labelSelector(m.nodeSelector),
      bytecode: { image: { url: m.image, imagepullpolicy: m.pullPolicy } },
      globaldata: globals(m.globalData),
      interfaceselector: legacySelector(m.interfaces),
      priority: m.priority,
      direction: m.kind === "tc" ? (m.direction ?? "ingress") : undefined,
      proceedon: m.proceedOn,
      containers:
        m.podSelector === undefined
          ? undefined
          : { namespace: m.podNamespace, pods: labelSelector(m.podSelector) },
    },
  };
}

/** The resource; an Error (a user error) when the options do not fit the kind. */
export function buildManifest(m: ManifestInput): YamlValue {
  if ((m.kind === "xdp" || m.kind === "tc") && m.kind !== m.program.type)
    throw new Error(
      `program '${m.program.name}' is ${m.program.type === "xdp" ? "an XDP" : "a tc"} program; a ${KIND_NAMES[m.kind]} holds ${m.kind === "xdp" ? "XDP" : "tc"} programs`,
    );
  if (m.kind === "application" && m.podSelector === undefined)
    throw new Error(
      "a BpfApplication attaches inside the network namespaces of selected pods: give --pod-selector",
    );
  if (m.kind === "application" && !m.namespace)
    throw new Error("a BpfApplication is namespaced: give --namespace");
  return m.kind === "xdp" || m.kind === "tc" ? legacyResource(m) : currentResource(m);
}
