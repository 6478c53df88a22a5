// The command manifest. Only names and descriptions load at start-up; a command's
// module (and the compiler or runtime behind it) is imported when that command runs,
// so `xdpc --help` and `xdpc check` do not pay for libbpf bindings or the lab.
import type { CommandImpl } from "./types.ts";

export interface CommandEntry {
  name: string;
  description: string;
  load(): Promise<CommandImpl>;
}

export const commands: CommandEntry[] = [
  {
    name: "check",
    description: "parse and type-check filter files; print diagnostics",
    load: async () => (await import("./check.ts")).checkCommand,
  },
  {
    name: "build",
    description: "compile filters into eBPF ELF objects (FILE.o beside each FILE.ts unless -o)",
    load: async () => (await import("./build.ts")).buildCommand,
  },
  {
    name: "image",
    description:
      "image build: package a filter or object as an OCI image in bpfman's bytecode-image format (layout dir or .tar)",
    load: async () => (await import("./image.ts")).imageCommand,
  },
  {
    name: "manifest",
    description:
      "write the bpfman-operator resource (ClusterBpfApplication, BpfApplication, XdpProgram, TcProgram) that deploys a filter's image",
    load: async () => (await import("./manifest.ts")).manifestCommand,
  },
  {
    name: "disasm",
    description:
      "disassemble an eBPF object (ours or clang's), with filter source lines from BTF line info",
    load: async () => (await import("./disasm.ts")).disasmCommand,
  },
  {
    name: "lab",
    description:
      "create, remove or show a lab: a network namespace with a veth pair (198.18.0.0/15)",
    load: async () => (await import("./lab.ts")).labCommand,
  },
  {
    name: "init",
    description:
      "create a filter project: a filter, a test with xdpc/testing, tsconfig, package.json (npm test runs without root)",
    load: async () => (await import("./init.ts")).initCommand,
  },
  {
    name: "test",
    description:
      "run every packet of a pcap/pcapng capture through a filter (kernel BPF_PROG_TEST_RUN or the Wasm engine, no root) and show the verdicts",
    load: async () => (await import("./test.ts")).testCommand,
  },
  {
    name: "playground",
    description:
      "serve the browser playground (edit, compile and run filters in the page) on 127.0.0.1",
    load: async () => (await import("./playground.ts")).playgroundCommand,
  },
  {
    name: "demo",
    description:
      "build the LPM firewall, attach it in a lab, drive legit + attack traffic through it and show drops per rule (--afxdp: the AF_XDP echo responder, attacks dropped in the kernel)",
    load: async () => (await import("./demo.ts")).demoCommand,
  },
  {
    name: "load",
    description:
      "compile (or read) a filter and attach it to an interface, atomically replacing the xdpc filter there",
    load: async () => (await import("./load.ts")).loadCommand,
  },
  {
    name: "run",
    description:
      "load a filter and run its AF_XDP handler in worker threads until Ctrl-C or SIGTERM, then unload it",
    load: async () => (await import("./run.ts")).runCommand,
  },
  {
    name: "unload",
    description: "detach the XDP program from an interface and remove xdpc's pins and state for it",
    load: async () => (await import("./unload.ts")).unloadCommand,
  },
  {
    name: "status",
    description: "show the XDP programs attached in this network namespace, their modes and maps",
    load: async () => (await import("./status.ts")).statusCommand,
  },
  {
    name: "map",
    description:
      "list, dump, get, set or delete map entries of the filter on an interface (typed: JSON, 198.18.0.1, 198.18.0.0/15)",
    load: async () => (await import("./map.ts")).mapCommand,
  },
  {
    name: "events",
    description:
      "stream the ring buffer records of the filter on an interface, decoded into fields",
    load: async () => (await import("./events.ts")).eventsCommand,
  },
  {
    name: "stats",
    description:
      "live packets per second per verdict and per counter of the filter on an interface",
    load: async () => (await import("./stats.ts")).statsCommand,
  },
  {
    name: "trace",
    description: "stream the output of trace() in filters (the kernel's trace_pipe)",
    load: async () => (await import("./trace.ts")).traceCommand,
  },
];
