/**
 * strongSwan charon debug logs (`ike = 4`, `chd = 4`, `mgr >= 2`, `cfg >= 1`, `enc >= 1`):
 * the key lines `Sk_ei secret => N bytes @ ...` (IKEv2), `encryption key Ka` (IKEv1),
 * `encryption|integrity initiator|responder key` (CHILD_SA), each followed by a hex dump,
 * tied to SPIs through the `checkout/checkin IKEv2 SA ... with SPIs X_i Y_r`,
 * `adding inbound|outbound ESP SA` / `SPI 0x.., src A dst B` and
 * `CHILD_SA ... established` lines, and to algorithms through `selected proposal:`.
 * The same walk as scripts/capture/keys.py (which made the fixtures' key files).
 * Lines are matched per thread (`NN[GRP]`), so interleaved threads are fine. Algorithms are
 * bound per IKE SA, by the unique ID in the log context (`<conn|N>`), not per thread: charon
 * selects a responder's IKE proposal in one thread and derives its keys in another, and a
 * thread serves many SAs. A daemon restart ("Starting IKE charon daemon") starts afresh.
 * @module
 */
import type { SkParams } from "../ike/v2/sk-crypto.ts";
import { espIntegFromSk, espParams, skIntegFromName, skParams, strongswanEncr } from "./algorithms.ts";
import { emptyKeys, KeyFileError, type ParsedKeys, canonAddr } from "./types.ts";

const LINE = /(?:^|\s)(\d+)\[([A-Z]{3})\] (?:<([^>]*)> )?(.*)$/;
/** The IKE SA's unique ID in a log context: `<conn|3>` or, before a config is found, `<3>`. */
const CTX_ID = /(?:^|\|)(\d+)$/;
const HEX = /^\s+\d+: ((?:[0-9A-F]{2} )+)/;
const DUMP = /^(.*?) => (\d+) bytes @ 0x[0-9a-f]+$/;

interface EspDir { dir: "inbound" | "outbound"; spi?: number; src?: string; dst?: string }
interface Thread {
  propIke?: string;
  propEsp?: string;
  role?: "initiator" | "responder";
  ike: Record<string, Uint8Array>;
  ikeLine: number;
  child: Record<string, Uint8Array>;
  dirs: EspDir[];
  v1: Record<string, Uint8Array>;
  pair?: [string, string];
}

/** True when the text looks like a charon log with key dumps. */
export function looksLikeCharon(text: string): boolean {
  let hits = 0;
  for (const l of text.slice(0, 20000).split("\n", 200)) if (LINE.test(l)) hits++;
  return hits >= 3;
}

function split(p: string): { encr: string; integ: string | null; esn: boolean } {
  const parts = p.slice(p.indexOf(":") + 1).split("/");
  let integ: string | null = null;
  for (const x of parts.slice(1)) if (x.startsWith("HMAC_")) integ = x;
  return { encr: parts[0], integ, esn: parts.includes("EXT_SEQ") };
}

/** Parse a charon log. */
export function parseCharon(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  const th = new Map<string, Thread>();
  /** Selected proposals per IKE SA unique ID (the latest of each kind). */
  const byId = new Map<string, { ike?: string; esp?: string }>();
  const idOf = (ctx: string): string | undefined => CTX_ID.exec(ctx)?.[1];
  const keyed = new Set<string>();
  const pending: { keys: Record<string, Uint8Array>; prop?: string; line: number; id?: string }[] = [];
  const ikeSets: { ispi: string; rspi: string; keys: Record<string, Uint8Array>; prop?: string; line: number }[] = [];
  const espSeen = new Set<number>();
  let cur: { t: string; label: string; bytes: number[]; ctx: string; line: number } | null = null;
  const T = (t: string): Thread => {
    let s = th.get(t);
    if (!s) th.set(t, s = { ike: {}, ikeLine: 0, child: {}, dirs: [], v1: {} });
    return s;
  };

  const finish = (c: NonNullable<typeof cur>) => {
    const s = T(c.t);
    const data = Uint8Array.from(c.bytes);
    const label = c.label;
    const m = /^Sk_(\w+) secret$/.exec(label);
    if (m) {
      const k = "sk_" + m[1];
      if (k === "sk_d") s.ikeLine = c.line;
      s.ike[k] = data;
      if (k === "sk_pr") {
        const id = idOf(c.ctx);
        const set = { keys: s.ike, prop: (id !== undefined ? byId.get(id)?.ike : undefined) ?? s.propIke, line: s.ikeLine || c.line, id };
        s.ike = {};
        const pair = s.pair;
        if (pair && !keyed.has(pair.join("/"))) {
          keyed.add(pair.join("/"));
          const { id: _id, ...rest } = set;
          ikeSets.push({ ispi: pair[0], rspi: pair[1], ...rest });
        } else pending.push(set);
      }
      return;
    }
    const cm = /^(encryption|integrity) (initiator|responder) key$/.exec(label);
    if (cm) {
      s.child[`${cm[1] === "encryption" ? "encr" : "integ"}_${cm[2][0]}`] = data;
      return;
    }
    if (label.startsWith("encryption key Ka")) s.v1.Ka = data;
  };

  const lines = text.split(/\r?\n/);
  for (let n = 1; n <= lines.length; n++) {
    const m = LINE.exec(lines[n - 1]);
    if (!m) continue;
    const [, t, , ctx = "", msg] = m;
    if (cur && cur.t === t) {
      const h = HEX.exec(msg);
      if (h) {
        for (const x of h[1].trim().split(" ")) cur.bytes.push(parseInt(x, 16));
        continue;
      }
      finish(cur);
      cur = null;
    }
    const hm = DUMP.exec(msg);
    if (hm) {
      if (cur) finish(cur);
      cur = { t, label: hm[1], bytes: [], ctx, line: n };
      continue;
    }
    const s = T(t);
    const id = idOf(ctx);
    let r: RegExpExecArray | null;
    if (/^Starting IKE charon daemon/.test(msg)) {
      // A restart: thread numbers and unique IDs start again; keys found so far stay.
      if (cur) finish(cur);
      cur = null;
      th.clear();
      byId.clear();
      pending.length = 0;
    } else if ((r = /selected proposal: ((IKE|ESP):\S+)/.exec(msg))) {
      // Per SA; the thread's latest is the fallback (an IKE rekey selects in the old SA's
      // context and derives the new SA's keys in the new one's).
      const k = r[2] === "IKE" ? "ike" : "esp";
      if (k === "ike") s.propIke = r[1];
      else s.propEsp = r[1];
      if (id !== undefined) {
        const e = byId.get(id) ?? {};
        e[k] = r[1];
        byId.set(id, e);
      }
    } else if ((r = /parsed (\S+) (request|response) (\d+)/.exec(msg))) {
      s.role = r[2] === "request" ? "responder" : "initiator";
    } else if ((r = /checkout IKEv2 SA (?:by message )?with SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r/.exec(msg))) {
      s.pair = r[2] !== "0".repeat(16) ? [r[1], r[2]] : undefined;
    } else if ((r = /checkin (?:IKEv2 )?SA (\S+) with SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r/.exec(msg))) {
      const key = `${r[2]}/${r[3]}`;
      if (r[3] !== "0".repeat(16) && !keyed.has(key) && pending.length) {
        // Keys derived in this SA's context (or, for an IKE rekey, the old SA's, which checks in the new one) first.
        let i = id === undefined ? -1 : pending.findIndex((p) => p.id === id);
        if (i < 0) i = pending.findIndex((p) => p.id === undefined || id === undefined);
        if (i >= 0) {
          keyed.add(key);
          const { id: _id, ...set } = pending.splice(i, 1)[0];
          ikeSets.push({ ispi: r[2], rspi: r[3], ...set });
        }
      }
    } else if ((r = /(?:adding|registering) (inbound|outbound) ESP SA/.exec(msg))) {
      s.dirs.push({ dir: r[1] as "inbound" });
    } else if ((r = /^\s*SPI 0x([0-9a-f]{8}), src (\S+) dst (\S+)/.exec(msg))) {
      const d = s.dirs[s.dirs.length - 1];
      if (d && d.spi === undefined) {
        d.spi = parseInt(r[1], 16) >>> 0;
        d.src = canonAddr(r[2]) ?? undefined;
        d.dst = canonAddr(r[3]) ?? undefined;
      }
    } else if ((r = /^(inbound |outbound )?CHILD_SA (\S+) established with SPIs/.exec(msg))) {
      const k = s.child;
      const prop = (id !== undefined ? byId.get(id)?.esp : undefined) ?? s.propEsp;
      if ((k.encr_i || k.integ_i) && prop) {
        const { encr, integ, esn } = split(prop);
        const e = strongswanEncr(encr);
        if (!e) throw new KeyFileError(file, n, `unsupported ESP encryption ${encr}`);
        const i = integ ? skIntegFromName(integ) : "none";
        if (i === null) throw new KeyFileError(file, n, `unsupported ESP integrity ${integ}`);
        for (const d of s.dirs) {
          if (d.spi === undefined || espSeen.has(d.spi)) continue;
          const suf = (s.role === "responder") === (d.dir === "outbound") ? "r" : "i";
          const ek = k["encr_" + suf] ?? new Uint8Array(0);
          const p = espParams(e.esp, ek, espIntegFromSk(i), k["integ_" + suf], e.icvLen);
          if (typeof p === "string") throw new KeyFileError(file, n, p);
          espSeen.add(d.spi);
          out.esp.push({ spi: d.spi, src: d.src, dst: d.dst, params: p, esn, origin: { file, line: n, format: "charon" } });
        }
      }
      s.dirs = [];
      if (r[1] !== "inbound ") s.child = {};
    } else if ((r = /checkin IKEv1 SA (\S+) with SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r/.exec(msg))) {
      if (s.v1.Ka) {
        if (!out.ikev1.some((x) => x.icookie === r![2])) out.ikev1.push({ icookie: r[2], rcookie: r[3], encKey: s.v1.Ka, origin: { file, line: n, format: "charon" } });
        s.v1 = {};
      }
    }
  }
  if (cur) finish(cur);
  for (const set of ikeSets) {
    const k = set.keys;
    if (!set.prop) throw new KeyFileError(file, set.line, "IKE keys without a \"selected proposal: IKE:...\" line before them");
    const { encr, integ } = split(set.prop);
    const e = strongswanEncr(encr);
    if (!e) throw new KeyFileError(file, set.line, `unsupported IKE encryption ${encr}`);
    const i = integ ? skIntegFromName(integ) : "none";
    if (i === null) throw new KeyFileError(file, set.line, `unsupported IKE integrity ${integ}`);
    const dir = (ek: Uint8Array | undefined, ak: Uint8Array | undefined, what: string): SkParams => {
      const p = skParams(e.sk, ek ?? new Uint8Array(0), i, ak, what);
      if (typeof p === "string") throw new KeyFileError(file, set.line, p);
      return p;
    };
    out.ikev2.push({
      ispi: set.ispi, rspi: set.rspi,
      initiator: dir(k.sk_ei, k.sk_ai, "SK_ei/SK_ai:"), responder: dir(k.sk_er, k.sk_ar, "SK_er/SK_ar:"),
      origin: { file, line: set.line, format: "charon" },
    });
  }
  return out;
}
