/**
 * IANA registries as data tables.
 *
 * A {@link Registry} maps a numeric code to its name. Unknown values print as
 * `UNKNOWN(n)`; reserved or private-use ranges can be named explicitly.
 * @module
 */

/** A named numeric range inside a registry, e.g. private use. */
export interface RegistryRange {
  from: number;
  to: number;
  /** Label, printed as `LABEL(n)`, e.g. `PRIVATE_USE`. */
  label: string;
}

/** A numeric code table with stable names. */
export class Registry {
  readonly title: string;
  private readonly names = new Map<number, string>();
  private readonly codes = new Map<string, number>();
  private readonly ranges: RegistryRange[];
  /** Dense lookup for small codes (hot path). */
  private readonly dense: (string | undefined)[] = [];

  constructor(title: string, entries: Record<number, string> | [number, string][], ranges: RegistryRange[] = []) {
    this.title = title;
    const list = Array.isArray(entries) ? entries : Object.entries(entries).map(([k, v]) => [Number(k), v] as [number, string]);
    for (const [code, name] of list) {
      this.names.set(code, name);
      if (!this.codes.has(name)) this.codes.set(name, code);
      if (code >= 0 && code < 65536) this.dense[code] = name;
    }
    this.ranges = ranges;
  }

  /** Name for `code`; `UNKNOWN(code)` when not registered. */
  name(code: number): string {
    const d = code >= 0 && code < 65536 ? this.dense[code] : this.names.get(code);
    if (d !== undefined) return d;
    for (const r of this.ranges) if (code >= r.from && code <= r.to) return `${r.label}(${code})`;
    return `UNKNOWN(${code})`;
  }

  /** True when `code` has a registered name. */
  has(code: number): boolean {
    return this.names.has(code);
  }

  /** Code for a registered name (exact match), or undefined. */
  code(name: string): number | undefined {
    return this.codes.get(name);
  }

  /** All registered [code, name] pairs, in insertion order. */
  entries(): [number, string][] {
    return [...this.names.entries()];
  }
}
