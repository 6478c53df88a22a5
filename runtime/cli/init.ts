// `xdpc init DIR [--name NAME] [--xdpc SPEC] [--force]`: a filter project to start from —
// a filter (filter.ts), a test of it with xdpc/testing and node:test (filter.test.js),
// tsconfig.json (so tsc and editors check the filter against xdpc's declarations),
// package.json whose `npm test` runs that test, on the Wasm engine when the user cannot
// load BPF (no root needed), and a README. Existing files are never overwritten unless
// --force.
import type { Command } from "commander";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { packageRoot } from "../sys/root.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";

interface InitOpts {
  name?: string;
  xdpc?: string;
  force?: boolean;
}

const FILTER = `// An XDP filter: drops UDP to the ports in \`blockedPorts\`, answers nothing else, and
// counts what it drops per port. Build it with \`npx xdpc build filter.ts\` (filter.o,
// loadable by libbpf, ip link, xdp-loader), try it on a capture with
// \`npx xdpc test filter.ts --pcap FILE\`, and test it with \`npm test\`.
import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, HashMap, u16, u64 } from "xdpc";

/** Destination port → 1 when blocked (fill it with \`xdpc map set\` or a test's \`maps\`). */
const blockedPorts = new HashMap<u16, u16>({ maxEntries: 256 });
/** Destination port → packets dropped. */
const drops = new HashMap<u16, u64>({ maxEntries: 256 });

export function filter(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const udp = ctx.udp();
  if (udp === null) return XDP_PASS;
  const port = udp.dstPort;
  if (blockedPorts.lookup(port) === null) return XDP_PASS;
  const n = drops.lookup(port);
  if (n === null) drops.update(port, 1);
  else drops.update(port, n + 1);
  return XDP_DROP;
}
`;

const TEST = `// @ts-check
// Tests of filter.ts with xdpc/testing and node:test (\`npm test\`). testFilter compiles the
// filter and runs it on the kernel when this process may load BPF programs (root), and
// on the Wasm engine otherwise: the same verdicts, bytes and maps, no privilege needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { testFilter } from "xdpc/testing";

/**
 * An Ethernet + IPv4 + UDP frame to \`dport\` (checksums left zero: the filter does not check them).
 * @param {number} dport
 */
function udpFrame(dport) {
  const f = new Uint8Array(14 + 20 + 8 + 4);
  f.set([0x08, 0x00], 12); // EtherType IPv4
  f.set([0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17], 14); // version/IHL, total length 32, TTL, UDP
  f.set([198, 18, 0, 2, 198, 18, 0, 1], 26); // 198.18.0.2 → 198.18.0.1
  f.set([0x13, 0x88, dport >> 8, dport & 0xff, 0, 12], 34); // 5000 → dport, length 12
  return f;
}

test("drops UDP to blocked ports and counts the drops", async (t) => {
  const run = await testFilter(new URL("./filter.ts", import.meta.url).pathname, {
    maps: { blockedPorts: { 53: 1 } },
  });
  t.diagnostic(\`engine: \${run.engine}\`);
  try {
    assert.equal(run.run(udpFrame(53)).verdict, "XDP_DROP");
    assert.equal(run.run(udpFrame(53)).verdict, "XDP_DROP");
    const passed = run.run(udpFrame(443));
    assert.equal(passed.verdict, "XDP_PASS");
    assert.equal(passed.changedBytes, 0);
    assert.deepEqual(run.map("drops").entries(), [{ key: 53, value: 2n }]);
    assert.deepEqual(run.verdicts(), { XDP_DROP: 2, XDP_PASS: 1 });
  } finally {
    run.close();
  }
});

test("passes what is not IPv4", async () => {
  const run = await testFilter(new URL("./filter.ts", import.meta.url).pathname);
  const arp = new Uint8Array(42);
  arp.set([0x08, 0x06], 12);
  assert.equal(run.run(arp).verdict, "XDP_PASS");
  run.close();
});
`;

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noEmit": true,
    "allowJs": true,
    "checkJs": true,
    "skipLibCheck": true
  },
  "include": ["*.ts", "*.js"]
}
`;

const README = (name: string) => `# ${name}

An XDP filter written in TypeScript for [xdpc](https://www.npmjs.com/package/xdpc).

- \`npm test\`: runs filter.test.js (node:test + xdpc/testing). As root the packets run in the
  kernel (BPF_PROG_TEST_RUN); as any other user on xdpc's Wasm engine, with the same
  verdicts, bytes and maps.
- \`npx xdpc build filter.ts\`: filter.o, an eBPF object libbpf, \`ip link\` and xdp-loader load.
- \`npx xdpc test filter.ts --pcap capture.pcap [--maps setup.json]\`: every packet of a
  capture through the filter, with a verdict table.
- \`sudo npx xdpc load --iface IF filter.ts\`: attach it to an interface.
- \`npm install -D typescript @types/node && npx tsc -p .\` type-checks the filter against
  xdpc's declarations and the test against xdpc/testing's.
`;

export const initCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<dir>", "directory to create the project in (created when missing)")
      .option("--name <name>", "package name (default: the directory's name)")
      .option(
        "--xdpc <spec>",
        "the xdpc dependency in package.json (default: file: this xdpc's directory)",
      )
      .option("--force", "overwrite files the template would write");
  },
  async run(cmd, args) {
    const dir = resolve(args[0] as string);
    const o = cmd.opts() as InitOpts;
    const name =
      o.name ??
      basename(dir)
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, "-");
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name))
      throw new CliError(`'${name}' is not a valid package name (give --name)`, EXIT.usage);
    const spec = o.xdpc ?? `file:${packageRoot()}`;
    const pkg = {
      name,
      version: "0.1.0",
      private: true,
      type: "module",
      scripts: {
        build: "xdpc build filter.ts",
        test: "node --test",
      },
      devDependencies: { xdpc: spec },
    };
    const files: [string, string][] = [
      ["filter.ts", FILTER],
      ["filter.test.js", TEST],
      ["tsconfig.json", TSCONFIG],
      ["package.json", JSON.stringify(pkg, null, 2) + "\n"],
      ["README.md", README(name)],
      [".gitignore", "node_modules/\n*.o\n*.wasm\n"],
    ];
    if (existsSync(dir) && !o.force) {
      const clash = files.map(([f]) => f).filter((f) => existsSync(join(dir, f)));
      if (clash.length)
        throw new CliError(
          `${dir} already has ${clash.join(", ")} (--force overwrites them)`,
          EXIT.failed,
        );
    }
    try {
      mkdirSync(dir, { recursive: true });
      for (const [f, text] of files) writeFileSync(join(dir, f), text);
    } catch (e) {
      throw new CliError(`cannot write the project in ${dir}: ${(e as Error).message}`);
    }
    const shown = relative(process.cwd(), dir) || ".";
    process.stdout.write(
      `created ${files.map(([f]) => f).join(", ")} in ${shown}\n` +
        `next: cd ${shown} && npm install && npm test\n`,
    );
    return EXIT.ok;
  },
};
