// `xdpc lab up|down|status|send [--name NAME]`: a network namespace with a veth pair
// to try filters on without touching a real interface, and traffic to send through it.
import { Argument, Option, type Command } from "commander";
import { BackgroundGenerator, parseCidr, type GenerateReport } from "../lab/generator.ts";
import { labDown, labStatus, labUp } from "../lab/control.ts";
import { buildFrame, TCP_ACK, TCP_PSH, TCP_SYN } from "../packets/build.ts";
import { DEFAULT_LAB, netnsPath, validLabName, type LabSpec } from "../lab/netns.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { labFailure } from "./failure.ts";

function describeLab(spec: LabSpec): string {
  return [
    `  receiver  ${spec.hostIf.padEnd(15)} ${`${spec.hostAddr}/${spec.prefixLen}`.padEnd(16)} ${spec.hostMac}  (this namespace: attach filters here)`,
    `  sender    ${spec.peerIf.padEnd(15)} ${`${spec.peerAddr}/${spec.prefixLen}`.padEnd(16)} ${spec.peerMac}  (namespace ${spec.name}: nsenter --net=${netnsPath(spec.name)})`,
  ].join("\n");
}

interface SendOpts {
  proto: "udp" | "syn" | "tcp" | "icmp";
  from?: string;
  dport: string;
  size: string;
  count?: string;
  duration?: string;
  pps?: string;
}

function intOption(flag: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new CliError(`--${flag} must be an integer in ${min}..${max}, got '${text}'`, EXIT.usage);
  return v;
}

/** `xdpc lab send`: frames from the sender end to the receiver, with the lab's generator. */
async function send(name: string, o: SendOpts): Promise<number> {
  const dport = intOption("dport", o.dport, 0, 65535);
  const size = intOption("size", o.size, 60, 1514);
  const count = o.count !== undefined ? intOption("count", o.count, 1, 2 ** 31 - 1) : undefined;
  const durationS =
    o.duration !== undefined ? Number(o.duration) : count === undefined ? 5 : undefined;
  if (durationS !== undefined && !(durationS > 0 && durationS <= 86400))
    throw new CliError(
      `--duration must be a number of seconds in (0, 86400], got '${o.duration}'`,
      EXIT.usage,
    );
  const pps = o.pps !== undefined ? intOption("pps", o.pps, 1, 1e9) : undefined;
  if (o.from !== undefined) {
    try {
      parseCidr(o.from);
    } catch (e) {
      throw new CliError(`--from: ${(e as Error).message}`, EXIT.usage);
    }
  }
  const st = labStatus(name);
  if (!(st.netns && st.hostIf && st.peerIf))
    throw new CliError(
      `lab ${name} is not up (run \`xdpc lab up${name === DEFAULT_LAB ? "" : ` --name ${name}`}\`)`,
    );
  if (!st.xdpProgId) {
    throw new CliError(
      `nothing would arrive: ${st.spec.hostIf} runs no XDP program, and veth delivers redirected frames only to a peer running XDP in native mode (xdpc load --iface ${st.spec.hostIf} FILTER first)`,
    );
  }
  const lab = st.spec;
  const l4 =
    o.proto === "udp"
      ? ({ proto: "udp", sport: 40000, dport } as const)
      : o.proto === "icmp"
        ? ({ proto: "icmp" } as const)
        : ({
            proto: "tcp",
            sport: 40000,
            dport,
            flags: o.proto === "syn" ? TCP_SYN : TCP_ACK | TCP_PSH,
          } as const);
  const frame = buildFrame({
    srcMac: lab.peerMac,
    dstMac: lab.hostMac,
    src: lab.peerAddr,
    dst: lab.hostAddr,
    l4,
    minLength: size,
  });
  const what = `${o.proto} ${frame.length}-byte frames from ${o.from ?? lab.peerAddr} to ${lab.hostAddr}${o.proto === "icmp" ? "" : `:${dport}`}`;
  process.stdout.write(
    `sending ${count !== undefined ? `${count} ` : ""}${what} on ${lab.peerIf} → ${lab.hostIf}${pps ? ` at ${pps} pps` : ""}${durationS ? ` for ${durationS} s` : ""} (Ctrl-C stops)\n`,
  );
  const bg = BackgroundGenerator.start(lab.name, lab.peerIf, {
    mix: [{ name: o.proto, frame, weight: 1, randomSource: o.from }],
    count,
    durationMs: durationS !== undefined ? durationS * 1000 : undefined,
    pps,
  });
  const stop = () => bg.stop();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const tty = !!process.stdout.isTTY;
  let last = 0;
  const ticker = setInterval(() => {
    const p = bg.progress();
    const line = `  ${(p.elapsedMs / 1000).toFixed(1)} s: ${p.sent.toLocaleString("en-US")} sent`;
    if (p.sent !== last) process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    last = p.sent;
  }, 1000);
  let report: GenerateReport;
  try {
    report = await bg.done;
  } finally {
    clearInterval(ticker);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  if (tty && last) process.stdout.write("\n");
  process.stdout.write(
    `sent ${report.sent.toLocaleString("en-US")} frames in ${(report.elapsedMs / 1000).toFixed(2)} s (${(report.pps / 1e6).toFixed(2)} Mpps, ${report.transport === "live" ? "live frames" : "packet socket"})\n`,
  );
  return EXIT.ok;
}

export const labCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .addArgument(new Argument("<action>", "what to do").choices(["up", "down", "status", "send"]))
      .option("--name <name>", "lab name (namespace; interfaces are NAME0 and NAME1)", DEFAULT_LAB)
      .option(
        "--index <n>",
        "up: address block 0..63 (198.18.0.4n+1/30), for labs side by side",
        "0",
      )
      .addOption(
        new Option("--proto <proto>", "send: what to send")
          .choices(["udp", "syn", "tcp", "icmp"])
          .default("udp"),
      )
      .option(
        "--from <cidr>",
        "send: random IPv4 source per frame inside this prefix (default: the sender's address)",
      )
      .option("--dport <port>", "send: destination port (udp, syn, tcp)", "9")
      .option("--size <bytes>", "send: frame length without FCS (60..1514)", "60")
      .option("--count <n>", "send: exactly this many frames")
      .option("--duration <seconds>", "send: for this long (default 5 s unless --count)")
      .option(
        "--pps <n>",
        "send: rate limit in frames per second (default: as fast as the kernel goes)",
      );
  },
  async run(cmd, args) {
    const action = args[0] as "up" | "down" | "status" | "send";
    const { name } = cmd.opts() as { name: string };
    if (!validLabName(name))
      throw new CliError(
        `invalid lab name '${name}' (lowercase letters, digits, '-' or '_', at most 14)`,
        EXIT.usage,
      );
    try {
      if (action === "send") return await send(name, cmd.opts() as SendOpts);
      if (action === "up") {
        const spec = labUp(
          name,
          intOption("index", (cmd.opts() as { index: string }).index, 0, 63),
        );
        process.stdout.write(`lab ${spec.name} is up\n${describeLab(spec)}\n`);
        return EXIT.ok;
      }
      if (action === "down") {
        const removed = labDown(name);
        process.stdout.write(
          removed.length
            ? `lab ${name} removed (${removed.join(", ")})\n`
            : `lab ${name} was not up; nothing to remove\n`,
        );
        return EXIT.ok;
      }
      const st = labStatus(name);
      if (!st.netns && !st.hostIf) {
        process.stdout.write(`lab ${name} is down\n`);
        return EXIT.failed;
      }
      const complete = st.netns && st.hostIf && st.peerIf;
      process.stdout.write(
        `lab ${name} is ${complete ? "up" : "broken (run `xdpc lab down` to clean up)"}\n${describeLab(st.spec)}\n`,
      );
      process.stdout.write(
        `  xdp on ${st.spec.hostIf}: ${st.xdpProgId ? `program id ${st.xdpProgId}` : "none"}\n`,
      );
      return complete ? EXIT.ok : EXIT.failed;
    } catch (e) {
      labFailure(e);
    }
  },
};
