// `xdpc image build`: a filter (compiled as `xdpc build` compiles it) or an eBPF object
// as an OCI image in bpfman's bytecode-image format, written as an image layout
// directory or an oci-archive tar, offline (no daemon, no registry).
import type { Command } from "commander";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { readObject } from "../../compiler/elf/object.ts";
import { bytecodeLabels, labelValues } from "../deploy/labels.ts";
import {
  BIG_ENDIAN,
  LITTLE_ENDIAN,
  buildImage,
  layoutArchive,
  layoutFiles,
  layoutIndex,
  parsePlatform,
  parseReference,
  platformName,
  type LayoutIndex,
  type OciImage,
} from "../deploy/oci.ts";
import { formatOption } from "./shared.ts";
import { objectOf } from "./object.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import type { Format } from "./report.ts";

/** filter.ts / filter.o → filter.oci beside it. */
export function defaultImageOutput(file: string): string {
  return file.replace(/\.([cm]?tsx?|o)$/, "") + ".oci";
}

interface ImageOpts {
  tag: string;
  output?: string;
  platform?: string;
  verdictStats?: boolean;
  json?: boolean;
  format: Format;
}

function sourceDate(): { created?: string; mtime: number } {
  const s = process.env.SOURCE_DATE_EPOCH;
  if (s === undefined || s === "") return { mtime: 0 };
  if (!/^\d+$/.test(s)) throw new CliError(`SOURCE_DATE_EPOCH must be whole seconds, got '${s}'`);
  const mtime = Number(s);
  return { created: new Date(mtime * 1000).toISOString().replace(/\.000Z$/, "Z"), mtime };
}

function previousIndex(dir: string): LayoutIndex | undefined {
  if (!existsSync(dir)) return undefined;
  if (!statSync(dir).isDirectory())
    throw new CliError(`'${dir}' exists and is not a directory (an oci-archive ends in .tar)`);
  if (!existsSync(join(dir, "oci-layout"))) {
    if (readdirSync(dir).length)
      throw new CliError(`'${dir}' is not empty and not an OCI image layout`);
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as LayoutIndex;
  } catch (e) {
    throw new CliError(`'${dir}/index.json' cannot be read: ${(e as Error).message}`);
  }
}

function write(path: string, data: Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new CliError(`cannot write '${path}': ${(e as Error).message}`);
  }
}

export const imageCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<action>", "build")
      .argument("<file>", "filter source (.ts) or eBPF object (.o)")
      .requiredOption("-t, --tag <name:tag>", "image reference, e.g. quay.io/me/dns-policy:v1")
      .option(
        "-o, --output <dir|file.tar>",
        "an OCI image layout directory, or an oci-archive when it ends in .tar (default FILE.oci)",
      )
      .option(
        "--platform <list>",
        "comma-separated platforms for the index (default: every little-endian linux platform)",
      )
      .option("--verdict-stats", "count returned verdicts in a hidden xdpc_verdicts map (.ts)")
      .option("--json", "print the image's digests as JSON")
      .addOption(formatOption());
  },
  async run(cmd, args) {
    const [action, file] = args as [string, string];
    if (action !== "build")
      throw new CliError(`unknown image action '${action}' (build)`, EXIT.usage);
    const o = cmd.opts() as ImageOpts;
    let reference;
    try {
      reference = parseReference(o.tag);
    } catch (e) {
      throw new CliError(`--tag: ${(e as Error).message}`, EXIT.usage);
    }
    const object = objectOf(file, o);
    if (!object) return EXIT.failed;
    let labels;
    let bigEndian = false;
    try {
      bigEndian = object[5] === 2;
      labels = bytecodeLabels(readObject(object));
    } catch (e) {
      throw new CliError(`${file}: not a BPF object bpfman can load: ${(e as Error).message}`);
    }
    const known = bigEndian ? BIG_ENDIAN : LITTLE_ENDIAN;
    let platforms = known;
    if (o.platform) {
      try {
        platforms = [...new Set(o.platform.split(",").map((s) => s.trim()))].map((s) =>
          parsePlatform(s, known),
        );
      } catch (e) {
        throw new CliError(`--platform: ${(e as Error).message}`, EXIT.usage);
      }
    }
    const fileName = basename(file).replace(/\.([cm]?tsx?|o)$/, "") + ".o";
    let image: OciImage;
    try {
      image = buildImage({
        object,
        fileName,
        reference,
        labels: labelValues(labels),
        platforms,
        ...sourceDate(),
      });
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError((e as Error).message);
    }
    const target = o.output ?? defaultImageOutput(file);
    if (target.endsWith(".tar")) write(target, layoutArchive(image, sourceDate().mtime));
    else {
      const index = layoutIndex(image, previousIndex(target));
      try {
        mkdirSync(join(target, "blobs", "sha256"), { recursive: true });
      } catch (e) {
        throw new CliError(`cannot create '${target}': ${(e as Error).message}`);
      }
      for (const [rel, data] of layoutFiles(image, index)) write(join(target, rel), data);
    }
    if (o.json) {
      process.stdout.write(
        JSON.stringify({
          output: target,
          reference: `${reference.name}:${reference.tag}`,
          digest: image.root.digest,
          mediaType: image.root.mediaType,
          platforms: platforms.map(platformName),
          layer: image.layer.digest,
          labels,
        }) + "\n",
      );
    } else {
      process.stderr.write(
        `${file} → ${target}: ${reference.name}:${reference.tag} ${image.root.digest} ` +
          `(${platforms.length} platform${platforms.length === 1 ? "" : "s"}; programs ${Object.keys(labels.programs).join(", ")})\n`,
      );
    }
    return EXIT.ok;
  },
};
