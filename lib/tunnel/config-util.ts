/**
 * Shared pieces of the configuration validators (lib/tunnel/config*.ts): the error type and
 * the typed readers of raw TOML values. Every error names the key.
 * @module
 */

export class ConfigError extends Error {
  constructor(readonly key: string, msg: string) {
    super(`config: ${key}: ${msg}`);
    this.name = "ConfigError";
  }
}

export function str(v: unknown, key: string, required: true): string;
export function str(v: unknown, key: string, required: false): string | undefined;
export function str(v: unknown, key: string, required: boolean): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(key, "missing");
    return undefined;
  }
  if (typeof v !== "string" || v.length === 0) throw new ConfigError(key, "must be a non-empty string");
  return v;
}

export function int(v: unknown, key: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new ConfigError(key, "must be an integer");
  if (n < min || n > max) throw new ConfigError(key, `must be between ${min} and ${max}`);
  return n;
}

export function strList(v: unknown, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const arr = typeof v === "string" ? [v] : v;
  if (!Array.isArray(arr) || arr.some((x) => typeof x !== "string")) throw new ConfigError(key, "must be a string or a list of strings");
  return arr as string[];
}


export function num(v: unknown, key: string, dflt: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !(n >= 0) || n > max) throw new ConfigError(key, `must be seconds between 0 and ${max}`);
  return n;
}

export function bool(v: unknown, key: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw new ConfigError(key, "must be true or false");
  return v;
}
