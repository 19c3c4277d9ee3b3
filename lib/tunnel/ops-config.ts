/**
 * Operations settings of `vpnkit up` (issue 14), read from the top level of the config file
 * with flags overriding them: key-log safety, strictness about secret files, logging.
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `keylog_append` | bool | false | append to an existing key log (a regular file owned by us, mode 0600) instead of refusing it |
 * | `strict` | bool | false | refuse secret files (PSK, keys, a config with inline keys) readable by group/others instead of warning |
 * | `log_level` | string | "info" | error, warn, info or debug (VPNKIT_DEBUG: debug) |
 * | `log_format` | string | text (journal under systemd) | text (ISO-8601 times), journal (syslog priority prefixes, no times), json (one object per line) |
 *
 * Also here: which files of a configuration hold secrets ({@link secretFiles}), so their
 * modes can be checked before anything is read.
 * @module
 */
import { type LogFormat, type LogLevel, parseLogFormat, parseLogLevel } from "../core/log.ts";
import { checkSecretFileMode, type SecretPolicy } from "../core/secret.ts";
import { ConfigError, type RawConfig } from "./config.ts";

export interface OpsSettings {
  keylogAppend: boolean;
  strict: boolean;
  /** Undefined: the caller's default (info, or debug with VPNKIT_DEBUG). */
  logLevel: LogLevel | undefined;
  /** Undefined: journal when stderr is the journal, else text. */
  logFormat: LogFormat | undefined;
}

/** The flags' raw values (undefined: not given). */
export interface RawOps {
  keylog_append?: unknown;
  strict?: unknown;
  log_level?: unknown;
  log_format?: unknown;
}

function bool(v: unknown, key: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw new ConfigError(key, "must be true or false");
  return v;
}

/** Validate the operations keys of `raw` with `over` (flags) taking precedence. */
export function validateOps(raw: RawConfig, over: RawOps = {}): OpsSettings {
  const pick = (k: keyof RawOps) => (over[k] !== undefined ? over[k] : (raw as RawOps)[k]);
  const lv = pick("log_level");
  const logLevel = lv === undefined ? undefined : parseLogLevel(lv);
  if (logLevel === null) throw new ConfigError("log_level", `must be error, warn, info or debug, not ${JSON.stringify(lv)}`);
  const lf = pick("log_format");
  const logFormat = lf === undefined ? undefined : parseLogFormat(lf);
  if (logFormat === null) throw new ConfigError("log_format", `must be text, journal or json, not ${JSON.stringify(lf)}`);
  return { keylogAppend: bool(pick("keylog_append"), "keylog_append"), strict: bool(pick("strict"), "strict"), logLevel, logFormat };
}

/**
 * The files of a configuration that hold secrets: key files, the PSK file, the private key,
 * the MTU responder's secret, and the config file itself when it holds inline keys or a PSK.
 */
export function secretFiles(raw: RawConfig, configPath?: string): { path: string; what: string }[] {
  const out: { path: string; what: string }[] = [];
  const add = (v: unknown, what: string) => {
    if (typeof v === "string" && v.length) out.push({ path: v, what });
  };
  add(raw.sa?.key_out_file, "key file (sa.key_out_file)");
  add(raw.sa?.key_in_file, "key file (sa.key_in_file)");
  add(raw.ike?.psk_file, "PSK file (ike.psk_file)");
  add(raw.ike?.eap_password_file, "EAP password file (ike.eap_password_file)");
  add(raw.ike?.key, "private key (ike.key)");
  add((raw as { mtu_responder?: { secret_file?: unknown } }).mtu_responder?.secret_file, "secret file (mtu_responder.secret_file)");
  const tables = (v: unknown) => (v !== null && typeof v === "object" && !Array.isArray(v) ? Object.entries(v as Record<string, unknown>) : []);
  let inline = false;
  for (const [id, t] of tables(raw.secrets)) {
    add((t as { psk_file?: unknown })?.psk_file, `PSK file (secrets.${id}.psk_file)`);
    add((t as { eap_password_file?: unknown })?.eap_password_file, `EAP password file (secrets.${id}.eap_password_file)`);
    if ((t as { psk?: unknown })?.psk !== undefined) inline = true;
  }
  for (const [name, t] of tables(raw.connections)) add((t as { key?: unknown })?.key, `private key (connections.${name}.key)`);
  if (configPath && (inline || raw.sa?.key_out !== undefined || raw.sa?.key_in !== undefined || raw.ike?.psk !== undefined)) {
    out.push({ path: configPath, what: "config file with inline secrets" });
  }
  return out;
}

/** Check every secret file's mode (warnings, or a SecretFileError under `strict`). */
export function checkSecretFiles(raw: RawConfig, configPath: string | undefined, policy: SecretPolicy): void {
  for (const f of secretFiles(raw, configPath)) checkSecretFileMode(f.path, policy, f.what);
}
