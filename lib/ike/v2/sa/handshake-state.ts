/**
 * What an IKE SA needs only while an exchange that creates keys is under way (IKE_SA_INIT,
 * IKE_AUTH with EAP, CREATE_CHILD_SA, an IKE SA rekey): nonces, key exchange, the messages AUTH
 * signs, the PSK copy, the COOKIE. {@link SaState} keeps them in one {@link HandshakeState}
 * object that `settle()` drops once nothing is under way: JavaScriptCore does not shrink an
 * object whose fields are cleared, so 17 fields of a held SA's state object would stay ~0.14 KB
 * per SA (issue 12). The SaContext fields stay as they were: accessors on SaState's prototype
 * read the sub-object (its default when there is none) and make it on a non-default write.
 * @module
 */
import type { Child, EapSession, PendingIkeRekey } from "./context.ts";
import type { KeyExchange } from "./dh.ts";
import type { Endpoint } from "./types.ts";

/** Zero-length bytes, shared: what a released field points to (nothing can be written into it). */
export const EMPTY = new Uint8Array(0);

export class HandshakeState {
  ke: KeyExchange | null = null;
  ni: Uint8Array = EMPTY;
  nr: Uint8Array = EMPTY;
  initRequest: Uint8Array = EMPTY;
  initResponse: Uint8Array = EMPTY;
  cookie: Uint8Array | null = null;
  initRetries = 0;
  /** Our copy of the PSK; zeroed and released once the SA is established (IKE rekeys do not authenticate again). */
  psk: Uint8Array = EMPTY;
  /** The copy SaState made (settle() zeroes only that one, never an array someone else assigned to `psk`). */
  pskOwn: Uint8Array | null = null;
  eap: EapSession | null = null;
  lastInstalled: Child | null = null;
  lastRaw: Uint8Array = EMPTY;
  lastTo: Endpoint | undefined = undefined;
  ni2: Uint8Array = EMPTY;
  nr2: Uint8Array = EMPTY;
  exchangeInitiator = true;
  pendingIkeRekey: PendingIkeRekey | null = null;

  /** True when nothing in it differs from a fresh one in a way that matters after settling (see SaState.settle). */
  idle(): boolean {
    return this.ke === null && this.eap === null && this.pendingIkeRekey === null;
  }
}

const DEFAULTS = new HandshakeState();

/** The fields SaState exposes through accessors (all of HandshakeState's but pskOwn). */
export const HANDSHAKE_FIELDS = (Object.keys(DEFAULTS) as (keyof HandshakeState)[]).filter((k) => k !== "pskOwn");

/**
 * Define a get/set pair on `proto` for each of {@link HANDSHAKE_FIELDS}, over `this.hs`: reads
 * give the default while there is no sub-object; a write of the default then does nothing.
 */
export function defineHandshakeAccessors(proto: object): void {
  for (const k of HANDSHAKE_FIELDS) {
    const d = DEFAULTS[k];
    Object.defineProperty(proto, k, {
      configurable: true,
      get(this: { hs: HandshakeState | null }) {
        const h = this.hs;
        return h === null ? d : h[k];
      },
      set(this: { hs: HandshakeState | null }, v: unknown) {
        let h = this.hs;
        if (h === null) {
          if (v === d) return;
          h = this.hs = new HandshakeState();
        }
        (h as unknown as Record<string, unknown>)[k] = v;
      },
    });
  }
}
