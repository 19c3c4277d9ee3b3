/**
 * Terminal colour for command output: `--color auto|always|never`, NO_COLOR
 * (https://no-color.org), FORCE_COLOR, TERM=dumb and isatty, in that order.
 *
 *   const c = colors(useColor(o.color, process.stdout));
 *   process.stdout.write(`${c.red("!!")} ${c.bold("IKE_AUTH")}\n`);
 */
import { Option } from "@commander-js/extra-typings";

export const COLOR_MODES = ["auto", "always", "never"] as const;
export type ColorMode = (typeof COLOR_MODES)[number];

/** The `--color <when>` option, for commands that colour their output. */
export function colorOption() {
  return new Option("--color <when>", "colour the output: auto (when a terminal and NO_COLOR is unset), always, never")
    .choices(COLOR_MODES)
    .default("auto" as ColorMode);
}

/**
 * Whether to emit ANSI colour on `stream`. An explicit `always`/`never` wins; in `auto`
 * a non-empty NO_COLOR disables, a non-empty FORCE_COLOR (other than "0") enables,
 * TERM=dumb disables, else colour follows isatty.
 */
export function useColor(
  mode: ColorMode | undefined,
  stream: { isTTY?: boolean } = process.stdout,
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

type Paint = (s: string) => string;
export interface Colors {
  enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  blue: Paint;
  magenta: Paint;
  cyan: Paint;
}

const SGR: Record<Exclude<keyof Colors, "enabled">, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
};

/** Painters that wrap text in SGR codes when `enabled`, and return it unchanged otherwise. */
export function colors(enabled: boolean): Colors {
  const out = { enabled } as Colors;
  for (const [name, [on, off]] of Object.entries(SGR) as [keyof typeof SGR, [number, number]][]) {
    out[name] = enabled ? (s) => `\x1b[${on}m${s}\x1b[${off}m` : (s) => s;
  }
  return out;
}
