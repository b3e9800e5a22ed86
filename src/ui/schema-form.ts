/**
 * Plugin configuration forms generated from each plugin's JSON Schema (GET /v1/plugins → config_schema), and
 * the API's validation issues mapped back to their fields. Pure: no DOM (unit-tested).
 */

export type FieldKind = "string" | "integer" | "number" | "boolean" | "enum" | "json";

export interface Field {
  name: string;
  kind: FieldKind;
  required: boolean;
  /** A secret is write-only: the API says only "set"/"unset", the form offers set/replace. */
  secret: boolean;
  options?: string[];
  defaultValue?: unknown;
  hint: string;
}

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
}

function kindOf(schema: Schema): Pick<Field, "kind" | "options"> {
  if (Array.isArray(schema.enum) && schema.enum.every((e) => typeof e === "string")) return { kind: "enum", options: schema.enum as string[] };
  if (schema.type === "boolean") return { kind: "boolean" };
  if (schema.type === "integer") return { kind: "integer" };
  if (schema.type === "number") return { kind: "number" };
  if (schema.type === "string") return { kind: "string" };
  return { kind: "json" };
}

function hintOf(schema: Schema): string {
  const parts: string[] = [];
  if (schema.description) parts.push(schema.description);
  if (schema.minimum !== undefined && schema.maximum !== undefined) parts.push(`${schema.minimum}–${schema.maximum}`);
  else if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  else if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.format) parts.push(schema.format);
  if (schema.default !== undefined) parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.join(" · ");
}

/** The form's fields, in the schema's order; `secrets` is the plugin's {field: "set"|"unset"} map. */
export function fieldsOf(schema: unknown, secrets: Record<string, string> = {}): Field[] {
  const s = (schema ?? {}) as Schema;
  const required = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([name, property]) => ({
    name,
    ...kindOf(property),
    required: required.has(name),
    secret: Object.hasOwn(secrets, name),
    defaultValue: property.default,
    hint: hintOf(property),
  }));
}

/** What an input shows for a stored value (secrets are never shown). */
export function displayValue(field: Field, value: unknown): string {
  if (field.secret || value === undefined || value === null) return "";
  if (field.kind === "json") return JSON.stringify(value);
  return String(value);
}

export type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

/** An input's text as the value the API expects; "" means "leave unset" (undefined). */
export function parseField(field: Field, text: string): Parsed {
  const raw = field.kind === "string" || field.kind === "enum" ? text : text.trim();
  if (raw === "") return field.required && !field.secret ? { ok: false, message: `${field.name} is required` } : { ok: true, value: undefined };
  switch (field.kind) {
    case "integer":
      return /^-?\d+$/.test(raw) ? { ok: true, value: Number(raw) } : { ok: false, message: `${field.name} must be a whole number` };
    case "number":
      return Number.isFinite(Number(raw)) ? { ok: true, value: Number(raw) } : { ok: false, message: `${field.name} must be a number` };
    case "boolean":
      return raw === "true" || raw === "false" ? { ok: true, value: raw === "true" } : { ok: false, message: `${field.name} is true or false` };
    case "json":
      try {
        return { ok: true, value: JSON.parse(raw) };
      } catch {
        return { ok: false, message: `${field.name} must be JSON` };
      }
    default:
      return { ok: true, value: raw };
  }
}

/**
 * The config to PUT: the stored plain values overlaid with the form's; a secret is sent only when the user
 * typed a new one (the API keeps a stored secret that the body leaves out).
 */
export function buildConfig(fields: Field[], texts: Record<string, string>, stored: Record<string, unknown>): { config: Record<string, unknown>; errors: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const text = texts[field.name];
    if (text === undefined) {
      if (!field.secret && stored[field.name] !== undefined) config[field.name] = stored[field.name];
      continue;
    }
    const parsed = parseField(field, text);
    if (!parsed.ok) errors[field.name] = parsed.message;
    else if (parsed.value !== undefined) config[field.name] = parsed.value;
  }
  return { config, errors };
}

/** The API's `details.issues` ({path, message}) by top-level field; issues without a path go under "". */
export function issuesByField(details: unknown): Record<string, string> {
  const issues = (details as { issues?: Array<{ path?: unknown; message?: unknown }> } | undefined)?.issues;
  const out: Record<string, string> = {};
  for (const issue of Array.isArray(issues) ? issues : []) {
    const path = typeof issue.path === "string" ? issue.path.replace(/^(body\.)?(config\.)?/, "").split(/[.[]/)[0]! : "";
    const message = typeof issue.message === "string" ? issue.message : "invalid value";
    out[path] = out[path] ? `${out[path]}; ${message}` : message;
  }
  return out;
}

/**
 * Field errors from a message that lists them one a line as "- field.path: what is wrong" (the profile
 * validator's WE-JOB-003 message), by top-level field.
 */
export function issuesFromMessage(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of message.split("\n")) {
    const m = /^\s*-\s*([A-Za-z0-9_.[\]]+):\s*(.+)$/.exec(line);
    if (!m) continue;
    const field = m[1]!.split(/[.[]/)[0]!;
    out[field] = out[field] ? `${out[field]}; ${m[2]}` : `${m[1]}: ${m[2]}`;
  }
  return out;
}
