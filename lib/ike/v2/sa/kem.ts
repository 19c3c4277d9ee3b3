/**
 * Key exchange methods as RFC 9370 uses them in IKE_INTERMEDIATE (and IKE_FOLLOWUP_KE):
 * one interface for Diffie-Hellman groups (dh.ts) and the ML-KEM key encapsulation
 * mechanisms of FIPS 203 (draft-ietf-ipsecme-ikev2-mlkem: Transform IDs 35 ML-KEM-512,
 * 36 ML-KEM-768, 37 ML-KEM-1024). For ML-KEM the initiator's KE data is its encapsulation
 * key, the responder's the ciphertext, and the 32-byte shared secret is SK(n); the
 * responder's value therefore depends on the initiator's ({@link respondKe}). Randomness
 * comes from the injected {@link Rng} (keygen seed d‖z and the encapsulation message m),
 * so tests can be deterministic. Peer values are validated (length, FIPS 203 §7.2 modulus
 * check of an encapsulation key: {@link mlKemKeyValid}); a bad one yields null, never an exception.
 * @module
 */
import { ml_kem512, ml_kem768, ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { newKeyExchange, SUPPORTED_GROUPS, type KeyExchange, type Rng } from "./dh.ts";

type Kem = typeof ml_kem768;

/** ML-KEM parameter sets by Key Exchange Method Transform ID. */
const MLKEM: Record<number, Kem> = { 35: ml_kem512, 36: ml_kem768, 37: ml_kem1024 };

/** Is `id` an ML-KEM method (35, 36, 37)? */
export function isMlKem(id: number): boolean {
  return MLKEM[id] !== undefined;
}

/** Byte lengths of an ML-KEM method's encapsulation key and ciphertext (undefined for other methods). */
export function mlKemLengths(id: number): { publicKey: number; cipherText: number } | undefined {
  const k = MLKEM[id];
  return k ? { publicKey: k.lengths.publicKey!, cipherText: k.lengths.cipherText! } : undefined;
}

function mlKemInitiator(id: number, kem: Kem, rng: Rng): KeyExchange {
  const seed = rng(64); // d ‖ z (FIPS 203 ML-KEM.KeyGen_internal)
  const { publicKey, secretKey } = kem.keygen(seed);
  seed.fill(0);
  const ctLen = kem.lengths.cipherText!;
  return {
    group: id,
    publicValue: publicKey,
    compute(peer) {
      if (peer.length !== ctLen) return null;
      try {
        // implicit rejection: a forged ciphertext yields a pseudo-random secret (FIPS 203 §6.3); AUTH then fails
        return kem.decapsulate(peer, secretKey);
      } catch {
        return null;
      }
    },
    destroy() {
      secretKey.fill(0);
    },
  };
}

/**
 * FIPS 203 §7.2 encapsulation key check: every 12-bit coefficient of t̂ (the first
 * 384·k bytes) is below q = 3329. Done here: @noble/post-quantum 0.5.4's own check
 * decodes 12-bit values without reducing them, so it never fails (test/ike/v2/sa/kem.test.ts).
 */
export function mlKemKeyValid(ek: Uint8Array, k: number): boolean {
  const end = 384 * k;
  if (ek.length !== end + 32) return false;
  for (let i = 0; i < end; i += 3) {
    const a = ek[i] | ((ek[i + 1] & 0x0f) << 8), b = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
    if (a >= 3329 || b >= 3329) return false;
  }
  return true;
}

/** k of an ML-KEM parameter set (2, 3, 4). */
const MLKEM_K: Record<number, number> = { 35: 2, 36: 3, 37: 4 };

/**
 * Initiator side of an additional key exchange with method `id`: its KE data and, given the
 * responder's, the shared secret. Null when the method is not implemented.
 */
export function newInitiatorKe(id: number, rng: Rng): KeyExchange | null {
  const kem = MLKEM[id];
  return kem ? mlKemInitiator(id, kem, rng) : newKeyExchange(id, rng);
}

/**
 * Responder side: answer the initiator's KE data `peer` with ours and the shared secret
 * (ML-KEM: encapsulate to the peer's key; DH: a fresh key pair). Null when `peer` is invalid
 * or the method is not implemented. The caller zeroes `shared`.
 */
export function respondKe(id: number, peer: Uint8Array, rng: Rng): { publicValue: Uint8Array; shared: Uint8Array } | null {
  const kem = MLKEM[id];
  if (kem) {
    if (peer.length !== kem.lengths.publicKey || !mlKemKeyValid(peer, MLKEM_K[id])) return null;
    const m = rng(32);
    try {
      const { cipherText, sharedSecret } = kem.encapsulate(peer, m);
      return { publicValue: cipherText, shared: sharedSecret };
    } catch {
      return null;
    } finally {
      m.fill(0);
    }
  }
  const ke = newKeyExchange(id, rng);
  if (!ke) return null;
  const shared = ke.compute(peer);
  const publicValue = ke.publicValue;
  ke.destroy();
  return shared ? { publicValue, shared } : null;
}

/** Key exchange methods usable as additional key exchanges (ADDKE1..7). */
export function additionalKeSupported(id: number): boolean {
  return isMlKem(id) || SUPPORTED_GROUPS.includes(id);
}
