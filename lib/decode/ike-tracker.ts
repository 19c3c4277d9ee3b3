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
}

/** One exchange (request and, if seen, its response). */
export interface IkeExchangeRecord {
  exchange: string;
  messageId: number;
  requestNo?: number;
  responseNo?: number;
  /** Extra copies of the request (retransmissions). */
  retransmits: number;
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
  messages: number;
  exchanges: IkeExchangeRecord[];
  /** Exchanges dropped from `exchanges` to bound memory. */
  exchangesOmitted: number;
  outcome: string;
}

const MAX_EXCHANGES = 64;
const MAX_SAS = 4096;

interface SaState extends IkeSaReport {
  byKey: Map<string, IkeExchangeRecord>;
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
        exchanges: [],
        exchangesOmitted: 0,
        outcome: "",
        byKey: new Map(),
        established: false,
        deleted: false,
      };
      this.sas.set(ev.ispi, st);
      this.order.push(st);
    }
    if (st.rspi === "0000000000000000" && ev.rspi !== st.rspi) st.rspi = ev.rspi;
    st.messages++;
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
    if (isResponse) {
      if (ex.responseNo === undefined) {
        ex.responseNo = ev.no;
        ex.responsePayloads = ev.payloads;
      }
    } else if (ex.requestNo === undefined) {
      ex.requestNo = ev.no;
      ex.requestPayloads = ev.payloads;
    } else if (ev.version === 2) {
      ex.retransmits++;
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
      const { byKey: _b, established, deleted, failed, authOpaque, ...rep } = st;
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
  const inner = d?.payloads;
  for (const pl of inner ? [...m.payloads, ...inner] : m.payloads) {
    if (pl.kind === "notify") notifies.push({ type: pl.notifyType, name: pl.notifyName, error: pl.isError });
    else if ((pl.kind === "sk" || pl.kind === "skf") && !inner) encrypted = true;
  }
  return {
    no, tsSec, tsNsec, version: 2,
    ispi: toHex(m.ispi), rspi: toHex(m.rspi), exchange: m.exchangeName, messageId: m.messageId,
    initiator: m.flags.initiator, response: m.flags.response,
    payloads: (inner ? [...m.payloads.filter((x) => x.kind !== "sk" && x.kind !== "skf"), ...inner] : m.payloads).map(ikev2PayloadToken).join(" "), notifies, encrypted,
    src, dst, length: m.length,
  };
}
