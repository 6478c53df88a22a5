// OCI image layouts (image-spec v1.1) for BPF objects in bpfman's bytecode-image
// format: one gzip'd tar layer holding the object at its root, the io.ebpf.* labels in
// the config, and for an arch-neutral object an image index with one manifest per
// platform, every manifest sharing that one layer. Written with no daemon and no
// registry; the same object and reference give the same bytes (archive.ts).
//
// Arch-neutral, for BPF: the bytecode is the same on every CPU, but the ELF object has
// a byte order (bpfel / bpfeb) that must match the host kernel's. xdpc writes
// little-endian objects, so an xdpc image lists the little-endian Linux platforms
// (LITTLE_ENDIAN below); a big-endian object would list the big-endian ones.
// XDP programs read only xdp_md and packet bytes, never pt_regs or other per-arch
// kernel structs, so nothing else in them depends on the architecture.
import { createHash } from "node:crypto";
import { gzipStored, tar, type TarEntry } from "./archive.ts";

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export const REF_NAME = "org.opencontainers.image.ref.name";
/** The full reference (name:tag) of an image in a layout, as containerd's import reads it. */
export const IMAGE_NAME = "io.containerd.image.name";

export interface Platform {
  os: "linux";
  architecture: string;
  variant?: string;
}

/** Linux platforms with a little-endian CPU (OCI / GOARCH names). */
export const LITTLE_ENDIAN: readonly Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
  { os: "linux", architecture: "arm", variant: "v7" },
  { os: "linux", architecture: "386" },
  { os: "linux", architecture: "ppc64le" },
  { os: "linux", architecture: "riscv64" },
  { os: "linux", architecture: "loong64" },
  { os: "linux", architecture: "mipsle" },
  { os: "linux", architecture: "mips64le" },
];
/** Linux platforms with a big-endian CPU. */
export const BIG_ENDIAN: readonly Platform[] = [
  { os: "linux", architecture: "s390x" },
  { os: "linux", architecture: "ppc64" },
  { os: "linux", architecture: "mips" },
  { os: "linux", architecture: "mips64" },
];

export function platformName(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** "linux/arm64", "linux/arm/v7" → Platform; must be one of `known`. */
export function parsePlatform(s: string, known: readonly Platform[]): Platform {
  const p = known.find(
    (k) => platformName(k) === s || (!k.variant && `${k.os}/${k.architecture}` === s),
  );
  if (p) return p;
  const arm = known.find((k) => k.variant && `${k.os}/${k.architecture}` === s);
  if (arm) return arm;
  throw new Error(
    `platform '${s}' is not one this object runs on (${known.map(platformName).join(", ")})`,
  );
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageReference {
  /** Repository ("quay.io/me/filter"). */
  name: string;
  tag: string;
}

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const HOST_RE = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::[0-9]+)?$/;

/** A name's first component is a registry host when it has a dot or a port, or is localhost. */
function validName(name: string): boolean {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (first && (first.includes(".") || first.includes(":") || first === "localhost"))
    return HOST_RE.test(first) && PATH_RE.test(name.slice(slash + 1));
  return PATH_RE.test(name);
}
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** NAME[:TAG] (tag "latest" when absent), validated as the distribution spec spells them. */
export function parseReference(ref: string): ImageReference {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  const [name, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "latest"];
  if (!validName(name))
    throw new Error(
      `'${name}' is not an image name (lower-case path components, an optional registry host first)`,
    );
  if (!TAG_RE.test(tag))
    throw new Error(`'${tag}' is not an image tag ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128)`);
  return { name, tag };
}

export function sha256(data: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

export interface ImageInput {
  /** The ELF object. */
  object: Uint8Array;
  /** Its file name in the layer ("dns_policy.o"). */
  fileName: string;
  reference: ImageReference;
  /** Config labels (bpfman's io.ebpf.programs / io.ebpf.maps). */
  labels: Record<string, string>;
  platforms: readonly Platform[];
  /** RFC 3339 creation time; omitted from the config when absent (it is optional). */
  created?: string;
  /** Seconds since the epoch for the layer's file time (default 0). */
  mtime?: number;
}

export interface OciImage {
  reference: ImageReference;
  /** Every blob, by digest. */
  blobs: Map<string, Uint8Array>;
  /** What index.json lists for the tag: the image index, or the manifest of a single platform. */
  root: Descriptor;
  layer: Descriptor;
  /** Digest of the uncompressed layer tar (the config's rootfs.diff_ids). */
  diffId: string;
  manifests: Descriptor[];
}

/** The blobs and root descriptor of a bytecode image. */
export function buildImage(input: ImageInput): OciImage {
  if (!input.platforms.length) throw new Error("an image needs at least one platform");
  if (!/^[^/\0]+$/.test(input.fileName) || input.fileName.startsWith("."))
    throw new Error(`'${input.fileName}' is not a file name for the layer`);
  const blobs = new Map<string, Uint8Array>();
  const put = (mediaType: string, data: Uint8Array, extra: Partial<Descriptor> = {}) => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.length, ...extra } as Descriptor;
  };
  const layerTar = tar([{ name: input.fileName, data: input.object }], input.mtime ?? 0);
  const diffId = sha256(layerTar);
  const layer = put(MEDIA.layer, gzipStored(layerTar), {
    annotations: { "org.opencontainers.image.title": input.fileName },
  });
  const manifests = input.platforms.map((platform) => {
    const config = put(
      MEDIA.config,
      json({
        ...(input.created ? { created: input.created } : {}),
        architecture: platform.architecture,
        ...(platform.variant ? { variant: platform.variant } : {}),
        os: platform.os,
        config: { Labels: input.labels },
        rootfs: { type: "layers", diff_ids: [diffId] },
      }),
    );
    const { mediaType, digest, size } = config;
    return put(
      MEDIA.manifest,
      json({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType, digest, size },
        layers: [layer],
        ...(input.created
          ? { annotations: { "org.opencontainers.image.created": input.created } }
          : {}),
      }),
      { platform },
    );
  });
  const annotations = {
    [IMAGE_NAME]: `${input.reference.name}:${input.reference.tag}`,
    [REF_NAME]: input.reference.tag,
  };
  let root: Descriptor;
  if (manifests.length === 1) root = { ...manifests[0]!, annotations };
  else {
    const index = put(MEDIA.index, json({ schemaVersion: 2, mediaType: MEDIA.index, manifests }));
    root = { ...index, annotations };
  }
  return { reference: input.reference, blobs, root, layer, diffId, manifests };
}

export interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/**
 * index.json for `image`, keeping the entries of `previous` (an existing layout's
 * index) except one with the same tag, which the new image replaces.
 */
export function layoutIndex(image: OciImage, previous?: LayoutIndex): LayoutIndex {
  const kept = (previous?.manifests ?? []).filter(
    (d) => d.annotations?.[REF_NAME] !== image.reference.tag,
  );
  return { schemaVersion: 2, mediaType: MEDIA.index, manifests: [...kept, image.root] };
}

export const OCI_LAYOUT = json({ imageLayoutVersion: "1.0.0" });

/** The files of an image layout directory, relative paths → bytes (blobs sorted by digest). */
export function layoutFiles(image: OciImage, index: LayoutIndex): [string, Uint8Array][] {
  const files: [string, Uint8Array][] = [
    ["oci-layout", OCI_LAYOUT],
    ["index.json", json(index)],
  ];
  for (const digest of [...image.blobs.keys()].sort())
    files.push([`blobs/sha256/${digest.slice("sha256:".length)}`, image.blobs.get(digest)!]);
  return files;
}

/** An oci-archive: the layout as one tar (directories first, then files in layoutFiles' order). */
export function layoutArchive(image: OciImage, mtime = 0): Uint8Array {
  const entries: TarEntry[] = [{ name: "blobs/" }, { name: "blobs/sha256/" }];
  for (const [name, data] of layoutFiles(image, layoutIndex(image))) entries.push({ name, data });
  return tar(entries, mtime);
}
