/**
 * Per-IKE-SA accounting for `vpnkit decode --stats` and the diagnostics.
 *
 * The pipeline feeds one {@link IkeEvent} per IKE message (IKEv1 or IKEv2,
 * cleartext or encrypted). The tracker groups them by SPI pair, keeps the
 * exchange list bounded, pairs requests with responses, counts
 * retransmissions, and derives an outcome.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { Ikev2Message } from "../ike/v2/message.ts";
import { ikev2PayloadToken } from "../ike/v2/summary.ts";
import type { Ikev2Decrypted } from "../decrypt/types.ts";

/** A notify seen in an IKE message. */
export interface IkeNotifyInfo {
  type: number;
  name: string;
  error: boolean;
}

/** One IKE message, normalised for tracking. */
export interface IkeEvent {
  no: number;
  tsSec: number;
  tsNsec: number;
  version: 1 | 2;
  /** Initiator SPI / cookie, hex. */
  ispi: string;
  /** Responder SPI / cookie, hex ("0000000000000000" in the first message). */
  rspi: string;
  exchange: string;
  messageId: number;
  /** IKEv2: the I flag (sender is the original initiator). IKEv1: undefined. */
  initiator?: boolean;
  /** IKEv2: the R flag. IKEv1: undefined (inferred from direction). */
  response?: boolean;
  /** Payload list as printed in the summary, e.g. "SA KE No N(NATD_S_IP)". */
  payloads: string;
  notifies: IkeNotifyInfo[];
  encrypted: boolean;
  src: string;
  dst: string;
  /** Message length in bytes. */
  length: number;
  /** IKEv2 RFC 7383 fragment (SKF payload): its number and the total. */
  fragment?: { number: number; total: number };
}

/** One exchange (request and, if seen, its response). */
export interface IkeExchangeRecord {
  exchange: string;
  messageId: number;
  requestNo?: number;
  responseNo?: number;
  /** Extra copies of the request (retransmissions; for a fragmented request, resends of the whole message). */
  retransmits: number;
  /** RFC 7383 fragments of the request / response (packets), when fragmented. */
  requestFragments?: number;
  responseFragments?: number;
  requestPayloads?: string;
  responsePayloads?: string;
  errors: string[];
}

/** Summary of one IKE SA. */
export interface IkeSaReport {
  version: 1 | 2;
  ispi: string;
  rspi: string;
  initiator: string;
  responder: string;
  firstNo: number;
  lastNo: number;
  firstTs: number;
  lastTs: number;
  /** IKE messages (an RFC 7383 fragmented message counts once per transmission). */
  messages: number;
  /** Packets that carried an RFC 7383 fragment (SKF). */
  fragments: number;
  exchanges: IkeExchangeRecord[];
  /** Exchanges dropped from `exchanges` to bound memory. */
  exchangesOmitted: number;
  outcome: string;
}

const MAX_EXCHANGES = 64;
const MAX_SAS = 4096;

/**
 * Copies seen of each fragment number of one message. Bounded: 64 numbers per direction,
 * the 4 latest fragmented exchanges per SA (an SA sends one message at a time), and
 * MAX_FRAG_ENTRIES numbers in the whole tracker (beyond that, fragments count as messages).
 */
const MAX_FRAG_NUMBERS = 64;
const MAX_FRAG_EXCHANGES = 4;
const MAX_FRAG_ENTRIES = 1 << 16;
interface FragCount {
  req: Map<number, number>;
  resp: Map<number, number>;
}

interface SaState extends IkeSaReport {
  byKey: Map<string, IkeExchangeRecord>;
  frags: Map<IkeExchangeRecord, FragCount>;
  /** Set when an IKE SA is known to be up (v2 IKE_AUTH answered without error, v1 quick mode seen). */
  established: boolean;
  deleted: boolean;
  /** IKE_AUTH was answered, but encrypted: the result needs keys. */
  authOpaque?: boolean;
  failed?: string;
}

/** Groups IKE messages into SAs. */
export class IkeTracker {
  private sas = new Map<string, SaState>();
  private order: SaState[] = [];
  /** SAs not tracked because of the cap. */
  overflow = 0;
  /** Fragment numbers held in all SAs' `frags` (bounded by MAX_FRAG_ENTRIES). */
  private fragEntries = 0;

  observe(ev: IkeEvent): void {
    let st = this.sas.get(ev.ispi);
    const t = ev.tsSec + ev.tsNsec / 1e9;
    if (!st) {
      if (this.sas.size >= MAX_SAS) {
        this.overflow++;
        return;
      }
      const fromInitiator = ev.version === 2 ? ev.initiator !== false : true;
      st = {
        version: ev.version,
        ispi: ev.ispi,
        rspi: ev.rspi,
        initiator: fromInitiator ? ev.src : ev.dst,
        responder: fromInitiator ? ev.dst : ev.src,
        firstNo: ev.no,
        lastNo: ev.no,
        firstTs: t,
        lastTs: t,
        messages: 0,
        fragments: 0,
        exchanges: [],
        exchangesOmitted: 0,
        outcome: "",
        byKey: new Map(),
        frags: new Map(),
        established: false,
        deleted: false,
      };
      this.sas.set(ev.ispi, st);
      this.order.push(st);
    }
    if (st.rspi === "0000000000000000" && ev.rspi !== st.rspi) st.rspi = ev.rspi;
    st.lastNo = ev.no;
    st.lastTs = t;

    const isResponse = ev.version === 2 ? ev.response === true : ev.src === st.responder;
    const key = `${ev.exchange}/${ev.messageId}`;
    let ex = st.byKey.get(key);
    if (!ex) {
      ex = { exchange: ev.exchange, messageId: ev.messageId, retransmits: 0, errors: [] };
      st.byKey.set(key, ex);
      if (st.exchanges.length < MAX_EXCHANGES) st.exchanges.push(ex);
      else st.exchangesOmitted++;
    }
    // RFC 7383: the fragments of one message share its exchange and message ID. A
    // fragment number seen again means the whole message was sent again.
    let copy = 0;
    if (ev.fragment && ev.version === 2) {
      st.fragments++;
      let fc = st.frags.get(ex);
      if (!fc) {
        fc = { req: new Map(), resp: new Map() };
        if (st.frags.size >= MAX_FRAG_EXCHANGES) {
          const [oldKey, old] = st.frags.entries().next().value!;
          this.fragEntries -= old.req.size + old.resp.size;
          st.frags.delete(oldKey);
        }
        st.frags.set(ex, fc);
      }
      const m = isResponse ? fc.resp : fc.req;
      copy = (m.get(ev.fragment.number) ?? 0) + 1;
      let stored = true;
      if (copy > 1) m.set(ev.fragment.number, copy);
      else if (m.size < MAX_FRAG_NUMBERS && this.fragEntries < MAX_FRAG_ENTRIES) {
        m.set(ev.fragment.number, copy);
        this.fragEntries++;
      } else stored = false;
      if (isResponse) ex.responseFragments = (ex.responseFragments ?? 0) + 1;
      else ex.requestFragments = (ex.requestFragments ?? 0) + 1;
      // A message counts once per transmission: the first fragment seen of each copy.
      let reached = 0;
      for (const c of m.values()) if (c >= copy) reached++;
      if (reached === 1 || !stored) st.messages++;
    } else st.messages++;
    if (isResponse) {
      if (ex.responseNo === undefined) {
        ex.responseNo = ev.no;
        ex.responsePayloads = ev.payloads;
      }
    } else if (ex.requestNo === undefined) {
      ex.requestNo = ev.no;
      ex.requestPayloads = ev.payloads;
    } else if (ev.version === 2) {
      // Another fragment of the same transmission is not a retransmission.
      if (!ev.fragment) ex.retransmits++;
      else if (copy - 1 > ex.retransmits) ex.retransmits = copy - 1;
    } else {
      // IKEv1 main/aggressive modes reuse message id 0 for every message: count
      // only identical-direction repeats with the same payload list as retransmits.
      if (ex.requestPayloads === ev.payloads) ex.retransmits++;
    }
    for (const n of ev.notifies) {
      if (n.error && !ex.errors.includes(n.name)) ex.errors.push(n.name);
    }

    // Outcome inference
    const err = ev.notifies.find((n) => n.error);
    if (err && !st.established) st.failed = `${err.name} in ${ev.exchange} ${isResponse ? "response" : "request"} (packet ${ev.no})`;
    if (ev.version === 2) {
      if (ev.exchange === "IKE_AUTH" && isResponse && !err) {
        if (ev.encrypted) st.authOpaque = true;
        else st.established = true;
      }
      // Later exchanges on the same SA prove IKE_AUTH succeeded.
      if (ev.exchange === "CREATE_CHILD_SA" || (ev.exchange === "INFORMATIONAL" && st.authOpaque)) st.established = true;
      if (ev.exchange === "INFORMATIONAL" && /\bD\b/.test(ev.payloads)) st.deleted = true;
    } else {
      if (ev.exchange === "Quick Mode") st.established = true;
      if (/\bD\b/.test(ev.payloads)) st.deleted = true;
    }
  }

  /** Reports in order of first appearance. */
  report(): IkeSaReport[] {
    return this.order.map((st) => {
      const { byKey: _b, frags: _f, established, deleted, failed, authOpaque, ...rep } = st;
      let outcome: string;
      if (failed) outcome = `failed: ${failed}`;
      else if (established) outcome = deleted ? "established, then deleted" : "established";
      else {
        const last = st.exchanges[st.exchanges.length - 1];
        if (last && last.responseNo === undefined) {
          outcome = `no response to ${last.exchange} (request sent ${1 + last.retransmits} time${last.retransmits ? "s" : ""})`;
        } else if (authOpaque) outcome = "IKE_AUTH answered (encrypted: give keys to see whether it succeeded)";
        else outcome = deleted ? "deleted" : "incomplete";
      }
      return { ...rep, outcome };
    });
  }
}

/** The tracker's event for one IKEv2 message (`d`: its decrypted SK content, with keys). */
export function ikev2Event(no: number, tsSec: number, tsNsec: number, m: Ikev2Message, src: string, dst: string, d?: Ikev2Decrypted): IkeEvent {
  const notifies = [];
  let encrypted = false;
  let fragment: IkeEvent["fragment"];
  const inner = d?.payloads;
  for (const pl of m.payloads) if (pl.kind === "skf") fragment = { number: pl.fragmentNumber, total: pl.totalFragments };
  for (const pl of inner ? [...m.payloads, ...inner] : m.payloads) {
    if (pl.kind === "notify") notifies.push({ type: pl.notifyType, name: pl.notifyName, error: pl.isError });
    else if ((pl.kind === "sk" || pl.kind === "skf") && !inner) encrypted = true;
  }
  return {
    no, tsSec, tsNsec, version: 2,
    ispi: toHex(m.ispi), rspi: toHex(m.rspi), exchange: m.exchangeName, messageId: m.messageId,
    initiator: m.flags.initiator, response: m.flags.response,
    payloads: (inner ? [...m.payloads.filter((x) => x.kind !== "sk" && x.kind !== "skf"), ...inner] : m.payloads).map(ikev2PayloadToken).join(" "), notifies, encrypted,
    src, dst, length: m.length, ...(fragment ? { fragment } : {}),
  };
}
