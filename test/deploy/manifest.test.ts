// `xdpc manifest` against the bpfman-operator's published CRD schemas (test/deploy/crds,
// source in its README): every resource it writes is read back by a YAML parser and
// validated with ajv against the CRD's openAPIV3Schema, with unknown fields refused (as
// `kubectl apply --validate=strict` refuses them) and the schemas' CEL rules evaluated.
// The global data is checked where it matters, in the kernel: written into `.rodata` at
// the variable's ELF symbol, as bpfman (aya) applies it, it sets the parameter.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv, type AnySchema, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import { repo, xdpc } from "../cli/run.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, runXdp } from "../support/xdp.ts";
import { build } from "../../runtime/packets/build.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { toYaml, type YamlValue } from "../../runtime/deploy/yaml.ts";
import { canonicalAction } from "../../runtime/deploy/manifest.ts";

const CRDS = join(repo, "test/deploy/crds");
const DNS = join(repo, "filters/dns_policy.ts");
const VLAN = join(repo, "filters/vlan_filter.ts");
const EGRESS = join(repo, "filters/tc/egress_policy.ts");

type Schema = Record<string, unknown>;

/** Strict field validation: an object schema with properties admits no other field. */
function strict(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(strict);
  if (typeof s !== "object" || s === null) return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s))
    out[k] = k === "properties" ? mapValues(v, strict) : strict(v);
  if (out.type === "object" && out.properties && out.additionalProperties === undefined)
    out.additionalProperties = false;
  return out;
}
const mapValues = (o: unknown, f: (v: unknown) => unknown) =>
  Object.fromEntries(Object.entries(o as Schema).map(([k, v]) => [k, f(v)]));

/** The one form of CEL rule these CRDs use: a type field that requires its own sub-object. */
const RULE =
  /^has\(self\.type\) && self\.type == '(\w+)' \?\s+has\(self\.(\w+)\) : !has\(self\.\2\)$/;

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat("byte", /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat("int32", {
    type: "number",
    validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  for (const k of ["x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-list-map-keys"])
    ajv.addKeyword({ keyword: k });
  ajv.addKeyword({
    keyword: "x-kubernetes-validations",
    schemaType: "array",
    validate: (rules: { rule: string }[], data: unknown) => {
      const d = data as Record<string, unknown>;
      return rules.every((r) => {
        const m = RULE.exec(r.rule.replace(/\s*\n\s*/g, " "));
        if (!m) throw new Error(`a CEL rule of a form this test does not evaluate: ${r.rule}`);
        return (d.type === m[1]) === m[2]! in d;
      });
    },
  });
  return ajv;
}

let validators: Record<string, ValidateFunction>;
let tmp: string;
let scope: Record<string, string>;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "xdpct-manifest-"));
  const ajv = makeAjv();
  validators = {};
  scope = {};
  for (const f of [
    "bpfman.io_clusterbpfapplications.yaml",
    "bpfman.io_bpfapplications.yaml",
    "bpfman.io_xdpprograms.yaml",
    "bpfman.io_tcprograms.yaml",
  ]) {
    const crd = parse(readFileSync(join(CRDS, f), "utf8"));
    const v = crd.spec.versions.find((x: { name: string }) => x.name === "v1alpha1");
    const schema = strict(v.schema.openAPIV3Schema) as Schema;
    // The API server checks apiVersion and kind against the CRD itself.
    schema.required = ["apiVersion", "kind", "metadata", "spec"];
    validators[crd.spec.names.kind] = ajv.compile(schema as AnySchema);
    scope[crd.spec.names.kind] = crd.spec.scope;
  }
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Runs `xdpc manifest`, parses its YAML, validates it as the API server would; returns it. */
function manifest(args: string[]): Record<string, any> {
  const r = xdpc(["manifest", ...args]);
  expect(r.status, r.stderr).toBe(0);
  const doc = parse(r.stdout);
  expect(doc.apiVersion).toBe("bpfman.io/v1alpha1");
  const validate = validators[doc.kind];
  expect(validate, `no CRD for kind ${doc.kind}`).toBeDefined();
  expect(validate!(doc), JSON.stringify(validate!.errors, null, 1)).toBe(true);
  expect(doc.metadata.name).toMatch(DNS_SUBDOMAIN);
  expect("namespace" in doc.metadata).toBe(scope[doc.kind] === "Namespaced");
  // The JSON form is the same resource.
  const j = xdpc(["manifest", ...args, "--json"]);
  expect(j.status, j.stderr).toBe(0);
  expect(JSON.parse(j.stdout)).toEqual(doc);
  return doc;
}

const b64 = (bytes: number[]) => Buffer.from(bytes).toString("base64");
const common = ["--image", "quay.io/xdpc/dns-policy:v1", "--priority", "50"];

describe("xdpc manifest: resources the operator's CRD schemas accept", () => {
  it("ClusterBpfApplication (default): one XDP program, its link, global data as the .rodata bytes", () => {
    const doc = manifest([
      DNS,
      ...common,
      "--iface-selector",
      "primary",
      "--set",
      "maxResponse=512",
      "--proceed-on",
      "pass,XDP_DROP",
      "--proceed-on",
      "DispatcherReturn",
    ]);
    expect(doc.kind).toBe("ClusterBpfApplication");
    expect(doc.metadata.name).toBe("dns-policy");
    expect(doc.spec).toEqual({
      nodeSelector: {},
      byteCode: { image: { url: "quay.io/xdpc/dns-policy:v1" } },
      // maxResponse is a u16: 512 little-endian.
      globalData: { maxResponse: b64([0x00, 0x02]) },
      programs: [
        {
          name: "dns_policy",
          type: "XDP",
          xdp: {
            links: [
              {
                interfaceSelector: { primaryNodeInterface: true },
                priority: 50,
                proceedOn: ["Pass", "Drop", "DispatcherReturn"],
              },
            ],
          },
        },
      ],
    });
  });

  it("ClusterBpfApplication of a tc program: direction, TC actions, interfaces, node and pod selectors", () => {
    const doc = manifest([
      EGRESS,
      "--image",
      "registry.example/egress@sha256:" + "ab".repeat(32),
      "--priority",
      "0",
      "--iface-selector",
      "eth0,eth1",
      "--direction",
      "egress",
      "--proceed-on",
      "TC_ACT_OK,pipe,dispatcher-return",
      "--node-selector",
      "kubernetes.io/os=linux",
      "--pod-selector",
      "app=web",
      "--pod-namespace",
      "shop",
      "--set",
      "efPriority=0x01020304",
      "--pull-policy",
      "Always",
      "--name",
      "egress.v2",
    ]);
    expect(doc.metadata.name).toBe("egress.v2");
    expect(doc.spec.byteCode.image).toEqual({
      url: "registry.example/egress@sha256:" + "ab".repeat(32),
      imagePullPolicy: "Always",
    });
    expect(doc.spec.nodeSelector).toEqual({ matchLabels: { "kubernetes.io/os": "linux" } });
    expect(doc.spec.globalData).toEqual({ efPriority: b64([4, 3, 2, 1]) });
    expect(doc.spec.programs).toEqual([
      {
        name: "egress_policy",
        type: "TC",
        tc: {
          links: [
            {
              interfaceSelector: { interfaces: ["eth0", "eth1"] },
              priority: 0,
              direction: "Egress",
              proceedOn: ["OK", "Pipe", "DispatcherReturn"],
              networkNamespaces: { namespace: "shop", pods: { matchLabels: { app: "web" } } },
            },
          ],
        },
      },
    ]);
  });

  it("BpfApplication: namespaced, pods required; interface discovery", () => {
    const doc = manifest([
      DNS,
      ...common,
      "--kind",
      "application",
      "--namespace",
      "acme",
      "--pod-selector",
      "app=dns",
      "--iface-selector",
      "discover",
    ]);
    expect(doc.kind).toBe("BpfApplication");
    expect(doc.metadata.namespace).toBe("acme");
    expect(doc.spec.programs[0].xdp.links[0]).toEqual({
      interfaceSelector: { interfacesDiscoveryConfig: { interfaceAutoDiscovery: true } },
      priority: 50,
      networkNamespaces: { pods: { matchLabels: { app: "dns" } } },
    });
    const noPods = xdpc([
      "manifest",
      DNS,
      ...common,
      "--kind",
      "application",
      "--namespace",
      "acme",
      "--iface-selector",
      "eth0",
    ]);
    expect(noPods.status).toBe(2);
    expect(noPods.stderr).toMatch(/^xdpc: error: a BpfApplication attaches .*--pod-selector\n$/);
  });

  it("XdpProgram and TcProgram (operator 0.5): lower-case fields and actions", () => {
    const x = manifest([
      VLAN,
      ...common,
      "--kind",
      "xdp",
      "--iface-selector",
      "primary",
      "--set",
      "vid=42",
      "--set",
      "allowUntagged=false",
      "--proceed-on",
      "pass,dispatcher_return",
    ]);
    expect(x.kind).toBe("XdpProgram");
    expect(x.spec).toEqual({
      bpffunctionname: "vlan_filter",
      nodeselector: {},
      bytecode: { image: { url: "quay.io/xdpc/dns-policy:v1" } },
      globaldata: { allowUntagged: b64([0]), vid: b64([42, 0]) },
      interfaceselector: { primarynodeinterface: true },
      priority: 50,
      proceedon: ["pass", "dispatcher_return"],
    });
    const t = manifest([
      EGRESS,
      ...common,
      "--kind",
      "tc",
      "--iface-selector",
      "eth0",
      "--direction",
      "ingress",
      "--proceed-on",
      "shot,redirect",
    ]);
    expect(t.kind).toBe("TcProgram");
    expect(t.spec.direction).toBe("ingress");
    expect(t.spec.proceedon).toEqual(["shot", "redirect"]);
  });

  it("a .o from any compiler works as the .ts does", () => {
    const out = join(tmp, "dns.o");
    expect(xdpc(["build", DNS, "-o", out]).status).toBe(0);
    const a = xdpc(["manifest", DNS, ...common, "--iface-selector", "eth0", "--name", "x1"]);
    const b = xdpc(["manifest", out, ...common, "--iface-selector", "eth0", "--name", "x1"]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });

  it("priority and proceedOn from the filter's runConfig when the options are not given", () => {
    const src = readFileSync(DNS, "utf8").replace(
      /\nexport function dns_policy/,
      "\nexport const runConfig = { priority: 10, chainCallActions: [XDP_DROP, XDP_PASS] };\n\nexport function dns_policy",
    );
    expect(src).toContain("runConfig");
    const file = join(tmp, "dns_policy.ts");
    writeFileSync(file, src);
    const link = (args: string[]) =>
      manifest([file, "--image", "q/x:v1", "--iface-selector", "primary", ...args]).spec.programs[0]
        .xdp.links[0];
    expect(link([])).toEqual({
      interfaceSelector: { primaryNodeInterface: true },
      priority: 10,
      proceedOn: ["Drop", "Pass", "DispatcherReturn"],
    });
    // The options win over the run config.
    expect(link(["--priority", "3", "--proceed-on", "pass"])).toEqual({
      interfaceSelector: { primaryNodeInterface: true },
      priority: 3,
      proceedOn: ["Pass"],
    });
    // operator 0.5: the same, in its spelling.
    const old = manifest([file, "--image", "q/x:v1", "--iface-selector", "eth0", "--kind", "xdp"]);
    expect(old.spec.priority).toBe(10);
    expect(old.spec.proceedon).toEqual(["drop", "pass", "dispatcher_return"]);
  });

  it("refuses, in one line with exit 2, what the operator would refuse or misread", () => {
    const cases: [string[], RegExp][] = [
      [
        [DNS, ...common, "--iface-selector", "primary", "--kind", "tc"],
        /is an XDP program; a TcProgram holds tc programs/,
      ],
      [
        [EGRESS, ...common, "--iface-selector", "primary"],
        /is a tc program: give --direction ingress or egress/,
      ],
      [
        [DNS, ...common, "--iface-selector", "primary", "--direction", "egress"],
        /XDP has no direction/,
      ],
      [
        [DNS, ...common, "--iface-selector", "primary", "--proceed-on", "pipe"],
        /'pipe' is not a XDP action \(aborted, drop, pass, tx, redirect, dispatcher_return\)/,
      ],
      [
        [DNS, ...common, "--iface-selector", "primary", "--set", "nope=1"],
        /--set: unknown parameter 'nope' \(parameters: maxResponse: u16 = 1232\)/,
      ],
      [
        [DNS, ...common, "--iface-selector", "primary", "--set", "maxResponse=70000"],
        /out of range/,
      ],
      [
        [DNS, "--image", "q/x", "--priority", "1001", "--iface-selector", "primary"],
        /--priority must be an integer 0\.\.1000/,
      ],
      [
        [DNS, "--image", "q/x", "--iface-selector", "primary"],
        /give --priority: 'dns_policy' has no run config/,
      ],
      [
        [DNS, "--image", "Q/X", "--priority", "1", "--iface-selector", "primary"],
        /--image: 'Q\/X' is not an image name/,
      ],
      [[DNS, ...common, "--iface-selector", "eth0/1"], /'eth0\/1' is not an interface name/],
      [
        [DNS, ...common, "--iface-selector", "discover", "--kind", "xdp"],
        /discover needs the current API/,
      ],
      [
        [DNS, ...common, "--iface-selector", "eth0", "--name", "Bad_Name"],
        /'Bad_Name' is not a Kubernetes object name/,
      ],
      [[DNS, ...common, "--iface-selector", "eth0", "--namespace", "x"], /is cluster-scoped/],
      [
        [DNS, ...common, "--iface-selector", "eth0", "--node-selector", "a b=c"],
        /'a b' is not a Kubernetes label key/,
      ],
      [
        [DNS, ...common, "--iface-selector", "eth0", "--program", "other"],
        /has no XDP or tc program 'other' \(programs: dns_policy \(xdp\)\)/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = xdpc(["manifest", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(re);
      expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
  });
});

describe("the schema check has teeth", () => {
  it("refuses an unknown field, a wrong enum spelling, a missing or stray per-type block, bad base64", () => {
    const good = manifest([
      DNS,
      ...common,
      "--iface-selector",
      "primary",
      "--set",
      "maxResponse=1",
    ]);
    const v = validators.ClusterBpfApplication!;
    const variant = (f: (d: any) => void) => {
      const d = structuredClone(good);
      f(d);
      return v(d);
    };
    expect(variant(() => {})).toBe(true);
    expect(variant((d) => (d.spec.programs[0].xdp.links[0].proceedon = ["Pass"]))).toBe(false);
    expect(variant((d) => (d.spec.programs[0].xdp.links[0].proceedOn = ["pass"]))).toBe(false);
    expect(variant((d) => (d.spec.programs[0].type = "TC"))).toBe(false);
    expect(variant((d) => (d.spec.programs[0].tc = { links: [] }))).toBe(false);
    expect(variant((d) => (d.spec.globalData.maxResponse = "AAI"))).toBe(false);
    expect(variant((d) => (d.spec.globalData.maxResponse = [0, 2]))).toBe(false);
    expect(variant((d) => (d.spec.programs[0].xdp.links[0].priority = 1001))).toBe(false);
    expect(variant((d) => delete d.spec.nodeSelector)).toBe(false);
  });
});

describe("pieces", () => {
  it("actions as users spell them", () => {
    expect(canonicalAction("xdp", "XDP_PASS")).toBe("pass");
    expect(canonicalAction("xdp", "ReDirect")).toBe("redirect");
    expect(canonicalAction("xdp", "DispatcherReturn")).toBe("dispatcher_return");
    expect(canonicalAction("tc", "TC_ACT_SHOT")).toBe("shot");
    expect(canonicalAction("tc", "ReClassify")).toBe("reclassify");
    expect(canonicalAction("tc", "UnSpec")).toBe("unspec");
    expect(canonicalAction("tc", "drop")).toBeUndefined();
  });

  it("the YAML writer round-trips through a YAML parser, quoting what would change meaning", () => {
    const v: YamlValue = {
      plain: "quay.io/me/x:v1",
      words: ["yes", "no", "on", "off", "null", "~", "true", "1", "0x10", "1e3", "-1", ".5", "1:2"],
      tricky: [
        "a: b",
        "a:",
        "#c",
        "- d",
        "",
        " lead",
        "trail ",
        "x #y",
        "'q'",
        '"q"',
        "a\nb",
        "é",
        "*x",
        "&x",
        "!x",
        "%x",
        "@x",
        "`x",
        "{x",
        "[x",
        "|",
        ">",
      ],
      nested: [[1, 2], [], {}, { a: [{ b: null, c: false }] }],
      empty: {},
      n: -3.5,
    };
    expect(parse(toYaml(v))).toEqual(v);
    expect(toYaml({ a: "quay.io/me/x:v1", b: "AAI=" })).toBe("a: quay.io/me/x:v1\nb: AAI=\n");
  });
});

describeKernel("global data as bpfman applies it", () => {
  it("bytes written at the variable's ELF symbol in .rodata set the parameter (vlan_filter vid=7, no untagged)", () => {
    const doc = manifest([
      VLAN,
      ...common,
      "--iface-selector",
      "eth0",
      "--set",
      "vid=7",
      "--set",
      "allowUntagged=false",
    ]);
    const built = join(tmp, "vlan.o");
    expect(xdpc(["build", VLAN, "-o", built]).status).toBe(0);
    const bytes = new Uint8Array(readFileSync(built));
    const info = readObject(bytes);
    const rodata = new Uint8Array(info.elf.section(".rodata")!.data);
    // aya's set_global: the symbol of that name in a data section, its size must match.
    for (const [name, value] of Object.entries(doc.spec.globalData as Record<string, string>)) {
      const sym = info.elf.symbols.find((s) => s.name === name && s.section === ".rodata")!;
      const data = Buffer.from(value, "base64");
      expect(data.length).toBe(sym.size);
      rodata.set(data, sym.value);
    }
    const obj = loadXdpObject(bytes, { beforeLoad: (l) => l.setInitialValue(".rodata", rodata) });
    try {
      const udp = (vid?: number) =>
        build({
          eth: vid === undefined ? {} : { vlans: [{ vid }] },
          l3: { kind: "ipv4" },
          l4: { kind: "udp", dport: 53 },
        });
      const r = runXdp(obj.programFd(), [udp(7), udp(100), udp()]);
      expect(r.map((x) => x.name)).toEqual(["XDP_PASS", "XDP_DROP", "XDP_DROP"]);
    } finally {
      obj.close();
    }
  });
});
