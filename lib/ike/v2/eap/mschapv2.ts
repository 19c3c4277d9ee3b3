/**
 * EAP (RFC 3748) with EAP-Identity and EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2, the
 * method Windows, macOS, iOS and Android IKEv2 clients use), as two I/O-free state
 * machines: {@link MschapServer} (the IKEv2 responder's side, users from a lookup of NT
 * password hashes) and {@link MschapPeer} (the initiator's side). Each consumes one EAP
 * message and returns the next one to send, or the outcome with the MSK (RFC 7296 §2.16).
 * Bounded: a fixed number of rounds, names ≤ 255 bytes; malformed input ends the
 * conversation with a reason, never a throw.
 * @module
 */
import { concat, ctEqual, escapeControls, putU16, u16 } from "../../../core/bytes.ts";
import { authenticatorResponse, mschapv2Msk, ntPasswordHash, ntResponse, verifyNtResponse } from "./mschapv2-crypto.ts";

export const EAP_REQUEST = 1, EAP_RESPONSE = 2, EAP_SUCCESS = 3, EAP_FAILURE = 4;
export const EAP_IDENTITY = 1, EAP_NAK = 3, EAP_MSCHAPV2 = 26;
const OP_CHALLENGE = 1, OP_RESPONSE = 2, OP_SUCCESS = 3, OP_FAILURE = 4;
const MAX_ROUNDS = 8;
const MAX_NAME = 255;

export interface EapMessage {
  code: number;
  id: number;
  /** Request/Response: the method type. */
  type?: number;
  /** Type-Data. */
  data: Uint8Array;
}

/** Encode an EAP message. */
export function encodeEap(m: EapMessage): Uint8Array {
  const hasType = m.code === EAP_REQUEST || m.code === EAP_RESPONSE;
  const out = new Uint8Array(4 + (hasType ? 1 : 0) + (hasType ? m.data.length : 0));
  out[0] = m.code;
  out[1] = m.id & 0xff;
  putU16(out, 2, out.length);
  if (hasType) {
    out[4] = m.type ?? 0;
    out.set(m.data, 5);
  }
  return out;
}

/** Parse an EAP message; null when malformed. */
export function parseEap(b: Uint8Array): EapMessage | null {
  if (b.length < 4) return null;
  const len = u16(b, 2);
  if (len < 4 || len > b.length) return null;
  const code = b[0];
  if (code === EAP_REQUEST || code === EAP_RESPONSE) {
    if (len < 5) return null;
    return { code, id: b[1], type: b[4], data: b.subarray(5, len) };
  }
  return { code, id: b[1], data: b.subarray(4, len) };
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

/** An MSCHAPv2 packet (OpCode, MS-CHAPv2-ID, MS-Length, body). */
function mschap(op: number, id: number, body: Uint8Array): Uint8Array {
  if (op === OP_SUCCESS || op === OP_FAILURE) {
    // as a peer's response these are the bare OpCode; as a request they carry ID, length and message
    if (body.length === 0) return Uint8Array.of(op);
  }
  const out = new Uint8Array(4 + body.length);
  out[0] = op;
  out[1] = id & 0xff;
  putU16(out, 2, out.length);
  out.set(body, 4);
  return out;
}

export type EapStep =
  | { send: Uint8Array }
  | { done: "success"; send?: Uint8Array; msk: Uint8Array; user: string }
  | { done: "failure"; send?: Uint8Array; reason: string; user?: string };

/** Server side: NT password hashes by user name (undefined: unknown user). */
export class MschapServer {
  private id: number;
  private round = 0;
  private user: string | undefined;
  private readonly challenge: Uint8Array;
  private state: "identity" | "challenge" | "success-sent" | "done" = "identity";
  private msk: Uint8Array | null = null;

  constructor(
    private readonly lookup: (user: string) => Uint8Array | undefined,
    rng: (n: number) => Uint8Array,
    private readonly serverName = "vpnkit",
  ) {
    this.challenge = rng(16);
    this.id = rng(1)[0];
  }

  /** The first request: EAP-Identity, or directly the MSCHAPv2 challenge when the identity is known (e.g. from IDi). */
  start(knownIdentity?: string): Uint8Array {
    if (knownIdentity !== undefined) {
      this.user = knownIdentity;
      return this.challengeRequest();
    }
    return encodeEap({ code: EAP_REQUEST, id: this.id, type: EAP_IDENTITY, data: new Uint8Array(0) });
  }

  /** The EAP identity or MSCHAPv2 user name the client gave (for logs and status). */
  get userName(): string | undefined {
    return this.user;
  }

  private challengeRequest(): Uint8Array {
    this.state = "challenge";
    this.id = (this.id + 1) & 0xff;
    const body = concat(Uint8Array.of(16), this.challenge, enc.encode(this.serverName));
    return encodeEap({ code: EAP_REQUEST, id: this.id, type: EAP_MSCHAPV2, data: mschap(OP_CHALLENGE, this.id, body) });
  }

  private fail(reason: string, send?: Uint8Array): EapStep {
    this.state = "done";
    return { done: "failure", reason, send: send ?? encodeEap({ code: EAP_FAILURE, id: this.id, data: new Uint8Array(0) }), user: this.user };
  }

  /** Consume the client's EAP response. */
  step(raw: Uint8Array): EapStep {
    if (this.state === "done") return { done: "failure", reason: "EAP conversation already ended" };
    if (++this.round > MAX_ROUNDS) return this.fail("too many EAP rounds");
    const m = parseEap(raw);
    if (!m || m.code !== EAP_RESPONSE) return this.fail("malformed EAP message, or not a Response");
    if (m.id !== this.id) return this.fail(`EAP Response identifier ${m.id}, expected ${this.id}`);
    if (m.type === EAP_NAK) return this.fail(`client refuses EAP-MSCHAPv2 (Nak, wants ${[...m.data].join(", ") || "nothing"})`);
    if (this.state === "identity") {
      if (m.type !== EAP_IDENTITY || m.data.length > MAX_NAME) return this.fail("expected an EAP-Identity response");
      this.user = dec.decode(m.data);
      return { send: this.challengeRequest() };
    }
    if (m.type !== EAP_MSCHAPV2 || m.data.length < 1) return this.fail(`expected EAP-MSCHAPv2, got EAP type ${m.type}`);
    const op = m.data[0];
    if (this.state === "challenge") {
      // Response: OpCode, ID, MS-Length, Value-Size (49), Peer-Challenge 16, Reserved 8, NT-Response 24, Flags, Name
      const d = m.data;
      if (op !== OP_RESPONSE || d.length < 4 + 1 + 49 || d[4] !== 49) return this.fail("malformed EAP-MSCHAPv2 Response");
      const peerChallenge = d.subarray(5, 21);
      const nt = d.subarray(29, 53);
      const name = dec.decode(d.subarray(54, Math.min(d.length, 54 + MAX_NAME)));
      // the user name in the challenge hash is the name without a Windows domain (RFC 2759 §4)
      const bare = name.includes("\\") ? name.slice(name.lastIndexOf("\\") + 1) : name;
      this.user ??= name;
      const hash = this.lookup(this.user);
      const ok = hash !== undefined && verifyNtResponse(nt, this.challenge, peerChallenge, bare, hash);
      this.id = (this.id + 1) & 0xff;
      if (!ok) {
        // EAP-Failure at once (RFC 3748 §4.2) rather than an MSCHAPv2 Failure request: charon's
        // client aborts on the latter without the acknowledgement the method expects
        return this.fail(hash === undefined ? `unknown EAP user "${escapeControls(this.user)}"` : `wrong password for EAP user "${escapeControls(this.user)}"`);
      }
      const auth = authenticatorResponse(hash!, nt, peerChallenge, this.challenge, bare);
      this.msk = mschapv2Msk(hash!, nt);
      this.state = "success-sent";
      return { send: encodeEap({ code: EAP_REQUEST, id: this.id, type: EAP_MSCHAPV2, data: mschap(OP_SUCCESS, this.id - 1, enc.encode(`${auth} M=Welcome to vpnkit`)) }) };
    }
    if (this.state === "success-sent") {
      if (op !== OP_SUCCESS) return this.fail("client did not acknowledge EAP-MSCHAPv2 Success");
      this.state = "done";
      return { done: "success", msk: this.msk!, user: this.user!, send: encodeEap({ code: EAP_SUCCESS, id: this.id, data: new Uint8Array(0) }) };
    }
    return this.fail("unexpected EAP message");
  }
}

/** Peer side (a vpnkit initiator authenticating to a server that requires EAP-MSCHAPv2). */
export class MschapPeer {
  private round = 0;
  private expectAuth: string | null = null;
  private msk: Uint8Array | null = null;

  constructor(private readonly user: string, private readonly password: string, private readonly rng: (n: number) => Uint8Array) {}

  /** Consume the server's EAP message (request, Success or Failure). */
  step(raw: Uint8Array): EapStep {
    if (++this.round > MAX_ROUNDS) return { done: "failure", reason: "too many EAP rounds" };
    const m = parseEap(raw);
    if (!m) return { done: "failure", reason: "malformed EAP message" };
    if (m.code === EAP_SUCCESS) {
      return this.msk ? { done: "success", msk: this.msk, user: this.user } : { done: "failure", reason: "EAP-Success before the server proved it knows the password" };
    }
    if (m.code === EAP_FAILURE) return { done: "failure", reason: "server sent EAP-Failure: wrong user name or password?" };
    if (m.code !== EAP_REQUEST) return { done: "failure", reason: `unexpected EAP code ${m.code}` };
    const reply = (type: number, data: Uint8Array) => ({ send: encodeEap({ code: EAP_RESPONSE, id: m.id, type, data }) });
    if (m.type === EAP_IDENTITY) return reply(EAP_IDENTITY, enc.encode(this.user));
    if (m.type !== EAP_MSCHAPV2) return reply(EAP_NAK, Uint8Array.of(EAP_MSCHAPV2));
    const d = m.data;
    const op = d[0];
    if (op === OP_CHALLENGE) {
      if (d.length < 4 + 1 + 16 || d[4] !== 16) return { done: "failure", reason: "malformed EAP-MSCHAPv2 Challenge" };
      const challenge = d.slice(5, 21);
      const peerChallenge = this.rng(16);
      const hash = ntPasswordHash(this.password);
      const nt = ntResponse(challenge, peerChallenge, this.user, hash);
      this.expectAuth = authenticatorResponse(hash, nt, peerChallenge, challenge, this.user);
      this.msk = null;
      const pending = mschapv2Msk(hash, nt);
      hash.fill(0);
      const body = concat(Uint8Array.of(49), peerChallenge, new Uint8Array(8), nt, Uint8Array.of(0), enc.encode(this.user));
      const out = reply(EAP_MSCHAPV2, mschap(OP_RESPONSE, d[1], body));
      this.pendingMsk = pending;
      return out;
    }
    if (op === OP_SUCCESS) {
      const text = dec.decode(d.subarray(4));
      const s = /S=([0-9A-Fa-f]{40})/.exec(text)?.[0]?.toUpperCase().replace(/^S=/, "S=") ?? "";
      if (!this.expectAuth || !ctEqual(enc.encode(s), enc.encode(this.expectAuth))) {
        return { done: "failure", reason: "the server's MSCHAPv2 authenticator response is wrong: it does not know the password" };
      }
      this.msk = this.pendingMsk;
      return reply(EAP_MSCHAPV2, Uint8Array.of(OP_SUCCESS));
    }
    if (op === OP_FAILURE) {
      const text = dec.decode(d.subarray(4));
      return { done: "failure", reason: `server refused the password (${text.split(" M=")[0]})`, send: reply(EAP_MSCHAPV2, Uint8Array.of(OP_FAILURE)).send };
    }
    return { done: "failure", reason: `unexpected EAP-MSCHAPv2 OpCode ${op}` };
  }

  private pendingMsk: Uint8Array | null = null;
}

/** NT password hash of a configured password (for the server's user table). */
export { ntPasswordHash };
