/**
 * The diagnosis data model: what `vpnkit diagnose` (and `decode --explain`)
 * prints, as plain objects (the JSON output is these objects serialised).
 *
 * Every finding carries a stable cause code (tests and scripts match on it),
 * a one-line summary in plain words, the evidence (packet numbers and the
 * values seen in them) and what to do about it.
 * @module
 */
import type { IkeSaReport } from "../decode/ike-tracker.ts";

/** Which IKE SA (the same fields as the `--stats` report). */
export type IkeSaIdentity = Pick<IkeSaReport, "version" | "ispi" | "rspi" | "initiator" | "responder" | "firstNo" | "lastNo">;

/** Stable cause codes. */
export type CauseCode =
  /** IKE_SA_INIT (or an IKE rekey) answered NO_PROPOSAL_CHOSEN: IKE algorithms do not match. */
  | "NO_PROPOSAL_CHOSEN_IKE"
  /** IKE_AUTH / CREATE_CHILD_SA answered NO_PROPOSAL_CHOSEN: ESP/AH algorithms do not match. */
  | "NO_PROPOSAL_CHOSEN_CHILD"
  /** The responder wants another key-exchange (DH) group. */
  | "INVALID_KE_PAYLOAD"
  /** AUTHENTICATION_FAILED: PSK, certificate, identity or EAP problem. */
  | "AUTH_FAILED"
  /** TS_UNACCEPTABLE: the traffic selectors (subnets) do not match. */
  | "TS_UNACCEPTABLE"
  /** Another IKE error notify (INTERNAL_ADDRESS_FAILURE, FAILED_CP_REQUIRED, ...). */
  | "IKE_ERROR_NOTIFY"
  /** A request was never answered (UDP 500/4500 blocked, peer down). */
  | "NO_RESPONSE"
  /** An IKE message was fragmented at the IP layer and the fragments never all arrived. */
  | "IKE_FRAGMENT_LOSS"
  /** Requests had to be retransmitted before they were answered. */
  | "IKE_RETRANSMIT"
  /** The outcome is inside encrypted messages and no keys were given for them. */
  | "ENCRYPTED_NEED_KEYS"
  /** An encrypted IKE message failed its integrity check with the keys given. */
  | "IKE_INTEGRITY_FAILED"
  /** ESP in one direction only. */
  | "ESP_ONE_WAY"
  /** ESP sequence numbers skipped: packets lost before the capture point. */
  | "ESP_SEQ_GAP"
  /** The same ESP sequence number seen more than once. */
  | "ESP_REPLAY"
  /** ESP packets whose ICV did not verify with the keys given. */
  | "ESP_ICV_FAIL"
  /** NAT between the peers and idle ESP without NAT-keepalives. */
  | "NAT_KEEPALIVE_MISSING";

export type Severity = "error" | "warning" | "info";

/** One piece of evidence: usually a packet and what was seen in it. */
export interface Evidence {
  /** Packet number (1-based, as in `vpnkit decode`), when the evidence is one packet. */
  packet?: number;
  /** Packet time (seconds since the epoch, fractional), when known. */
  time?: number;
  text: string;
}

/** A diagnosed problem (or, with severity "info", a notable fact). */
export interface Finding {
  code: CauseCode;
  severity: Severity;
  /** One line, plain words. */
  summary: string;
  /** Longer explanation, one sentence per entry. */
  explanation: string[];
  evidence: Evidence[];
  /** What to check or change. */
  suggestions: string[];
  /** Every packet this finding refers to, ascending. */
  packets: number[];
  /** IKE SA concerned ("ispi/rspi" hex). */
  ikeSa?: string;
  /** ESP SPIs concerned (8 hex digits). */
  espSpis?: string[];
  /** Structured values (proposals, groups, selectors, counts) for --json. */
  data?: Record<string, unknown>;
}

/** One IKE message in an IKE SA's timeline. */
export interface TimelineEntry {
  /** Packet number (for SKF and IP fragments: the first packet). */
  no: number;
  /** All packets carrying this message (SKF fragments, IP fragments). */
  packets: number[];
  time: number;
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  /** "I->R" when sent by the original initiator, "R->I" otherwise. */
  dir: "I->R" | "R->I";
  exchange: string;
  messageId: number;
  response: boolean;
  /** Payload tokens (decrypted content in place of SK when available). */
  payloads: string;
  /** Message length in bytes (IKE header length field). */
  length: number;
  /** "cleartext", "encrypted" (no keys), "decrypted", "integrity-bad". */
  protection: "cleartext" | "encrypted" | "decrypted" | "integrity-bad";
  /** Error notify names in this message (cleartext or decrypted). */
  errors: string[];
  /** This is copy number `retransmission` (1 = first resend) of packet `retransmitOf`. */
  retransmission?: number;
  retransmitOf?: number;
  /** Only the first IP fragment was captured; the datagram never completed. */
  fragmentOnly?: boolean;
  /** Note for the reader (e.g. "IP fragments 5, 6, 7 reassembled"). */
  note?: string;
}

/** A CHILD SA (two ESP SAs) as seen in the IKE messages or inferred from ESP. */
export interface ChildSaInfo {
  /** SPI the initiator of the creating exchange receives on (hex). */
  spiI?: string;
  /** SPI the responder of the creating exchange receives on (hex). */
  spiR?: string;
  protocol: string;
  /** Packet of the response that created it. */
  createdNo?: number;
  /** Packet of the DELETE that removed it. */
  deletedNo?: number;
}

/** One IKE SA. */
export interface IkeSaDiagnosis extends IkeSaIdentity {
  firstTime: number;
  lastTime: number;
  timeline: TimelineEntry[];
  /** Messages not kept in `timeline` (memory bound). */
  timelineOmitted: number;
  /** established, failed, no-response, unknown, incomplete. */
  state: "established" | "failed" | "no-response" | "unknown" | "incomplete";
  /** The outcome in words. */
  outcome: string;
  deleted: boolean;
  /** IKE SA this one replaced (rekey), "ispi/rspi". */
  rekeyOf?: string;
  /** IKE SA that replaced this one. */
  rekeyedBy?: string;
  /** NAT seen from the NAT_DETECTION hashes. */
  nat?: { initiatorBehindNat: boolean; responderBehindNat: boolean; evidence: number[] };
  /** Codes of this SA's findings. */
  findings: CauseCode[];
}

/** One ESP SA (one direction). */
export interface EspSaDiagnosis {
  spi: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  packets: number;
  firstNo: number;
  lastNo: number;
  firstTime: number;
  lastTime: number;
  /** SPI of the reverse direction, when paired. */
  reverse?: string;
  missing: number;
  duplicates: number;
  outOfOrder: number;
  /** With keys: ICV verdicts. */
  icv?: { good: number; bad: number; none: number };
  /** IKE SA that negotiated it, when known from decrypted messages or timing. */
  ikeSa?: string;
  findings: CauseCode[];
}

/** A rekey: `newSa` replaced `oldSa`. */
export interface RekeyLink {
  kind: "ike" | "child";
  /** IKE: "ispi/rspi"; CHILD: "spiA/spiB" (ESP SPIs, hex). */
  oldSa: string;
  newSa: string;
  /** CREATE_CHILD_SA request and response packets. */
  createNo?: number;
  createResponseNo?: number;
  /** DELETE (or the INFORMATIONAL that likely carried it) of the old SA. */
  deleteNo?: number;
  /** How it was established: from REKEY_SA / SA payloads (decrypted) or by timing. */
  method: "decrypted" | "timing";
}

/** Everything the diagnoser found. */
export interface Diagnosis {
  packets: number;
  firstTime: number;
  lastTime: number;
  /** Any encrypted IKE message or ESP packet was decrypted (keys were given). */
  keysUsed: boolean;
  /** SAs in the keys given (0: no keys given). */
  keysGiven: number;
  /** One line: the most important finding, or that nothing is wrong. */
  verdict: string;
  ikeSas: IkeSaDiagnosis[];
  /** IKE SAs beyond the tracking cap. */
  ikeSasUntracked: number;
  espSas: EspSaDiagnosis[];
  rekeys: RekeyLink[];
  /** Errors first, then warnings, then info; in order of the first packet within each. */
  findings: Finding[];
  /** Packets (or SAs, by first packet) the diagnoser could not analyse (a bug: please report); the first 16 numbers. */
  internalErrors: { count: number; packets: number[] };
}
