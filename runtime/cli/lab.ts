// `xdpc lab up|down|status [--name NAME]`: a network namespace with a veth pair to
// try filters on without touching a real interface.
import { Argument, type Command } from "commander";
import { labDown, labStatus, labUp } from "../lab.ts";
import { DEFAULT_LAB, LabError, netnsPath, validLabName, type LabSpec } from "../netns.ts";
import type { CommandDef } from "./commands.ts";
import { CliError, EXIT } from "./errors.ts";

function describeLab(spec: LabSpec): string {
  return [
    `  receiver  ${spec.hostIf.padEnd(15)} ${`${spec.hostAddr}/${spec.prefixLen}`.padEnd(16)} ${spec.hostMac}  (this namespace: attach filters here)`,
    `  sender    ${spec.peerIf.padEnd(15)} ${`${spec.peerAddr}/${spec.prefixLen}`.padEnd(16)} ${spec.peerMac}  (namespace ${spec.name}: nsenter --net=${netnsPath(spec.name)})`,
  ].join("\n");
}

export const labCommand: CommandDef = {
  name: "lab",
  description: "create, remove or show a lab: a network namespace with a veth pair (198.18.0.0/15)",
  configure(cmd: Command) {
    cmd
      .addArgument(new Argument("<action>", "what to do").choices(["up", "down", "status"]))
      .option("--name <name>", "lab name (namespace; interfaces are NAME0 and NAME1)", DEFAULT_LAB);
  },
  async run(cmd, args) {
    const action = args[0] as "up" | "down" | "status";
    const { name } = cmd.opts() as { name: string };
    if (!validLabName(name)) throw new CliError(`invalid lab name '${name}' (lowercase letters, digits, '-' or '_', at most 14)`, EXIT.usage);
    try {
      if (action === "up") {
        const spec = labUp(name);
        process.stdout.write(`lab ${spec.name} is up\n${describeLab(spec)}\n`);
        return EXIT.ok;
      }
      if (action === "down") {
        const removed = labDown(name);
        process.stdout.write(removed.length ? `lab ${name} removed (${removed.join(", ")})\n` : `lab ${name} was not up; nothing to remove\n`);
        return EXIT.ok;
      }
      const st = labStatus(name);
      if (!st.netns && !st.hostIf) {
        process.stdout.write(`lab ${name} is down\n`);
        return EXIT.failed;
      }
      const complete = st.netns && st.hostIf && st.peerIf;
      process.stdout.write(`lab ${name} is ${complete ? "up" : "broken (run `xdpc lab down` to clean up)"}\n${describeLab(st.spec)}\n`);
      process.stdout.write(`  xdp on ${st.spec.hostIf}: ${st.xdpProgId ? `program id ${st.xdpProgId}` : "none"}\n`);
      return complete ? EXIT.ok : EXIT.failed;
    } catch (e) {
      if (e instanceof LabError) throw new CliError(e.message, EXIT.failed);
      throw e;
    }
  },
};
