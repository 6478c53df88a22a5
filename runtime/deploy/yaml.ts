// A YAML writer for JSON-shaped data (objects, arrays, strings, numbers, booleans,
// null): block mappings and sequences, two-space indent, keys in insertion order.
// A string is written plain when YAML would read it back as that same string, and
// as a JSON string (which YAML's double-quoted style reads the same) otherwise.

export type YamlValue =
  string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue | undefined };

/** Words and forms a YAML 1.1 or 1.2 reader would take for a boolean, null or number. */
const SPECIAL =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?(?:\.inf|\.Inf|\.INF)|\.nan|\.NaN|\.NAN|[-+]?[0-9][0-9_:.,eExXoObB+-]*|[-+]?\.[0-9].*|<<|=)$/;
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./@+=,():-]*(?: [A-Za-z0-9_./@+=,():-]+)*$/;

export function yamlString(s: string): string {
  // A colon is plain only inside a word (`quay.io/me/x:v1`); `k: v` and `k:` are mappings.
  return PLAIN.test(s) && !SPECIAL.test(s) && !/:( |$)/.test(s) ? s : JSON.stringify(s);
}

function scalar(v: string | number | boolean | null): string {
  if (v === null) return "null";
  if (typeof v === "string") return yamlString(v);
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`${v} has no YAML form here`);
  return String(v);
}

const isEmpty = (v: YamlValue) =>
  Array.isArray(v) ? v.length === 0 : typeof v === "object" && v !== null && !Object.keys(v).length;
const emptyForm = (v: YamlValue) => (Array.isArray(v) ? "[]" : "{}");
type Collection = YamlValue[] | { [key: string]: YamlValue | undefined };
const isCollection = (v: YamlValue): v is Collection => typeof v === "object" && v !== null;

function lines(v: YamlValue, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isCollection(item) && !isEmpty(item)) {
        const sub: string[] = [];
        lines(item, indent + "  ", sub);
        // The first line of the item goes after the dash.
        out.push(indent + "- " + sub[0]!.slice(indent.length + 2), ...sub.slice(1));
      } else out.push(indent + "- " + (isCollection(item) ? emptyForm(item) : scalar(item)));
    }
    return;
  }
  if (isCollection(v)) {
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined) continue;
      const key = indent + yamlString(k) + ":";
      if (isCollection(item) && !isEmpty(item)) {
        out.push(key);
        // Sequences under a key sit at the key's indent, as kubectl writes them.
        lines(item, Array.isArray(item) ? indent : indent + "  ", out);
      } else out.push(key + " " + (isCollection(item) ? emptyForm(item) : scalar(item)));
    }
    return;
  }
  out.push(indent + scalar(v));
}

/** One YAML document (no `---`), ending in a newline. */
export function toYaml(v: YamlValue): string {
  if (isCollection(v) && isEmpty(v)) return emptyForm(v) + "\n";
  const out: string[] = [];
  lines(v, "", out);
  return out.join("\n") + "\n";
}
