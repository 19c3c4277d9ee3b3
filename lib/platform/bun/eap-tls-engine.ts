/**
 * The TLS engine of the EAP-TLS responder (lib/ike/v2/eap/tls.ts): node:tls as a server over
 * an in-memory Duplex. TLS 1.2 only (strongSwan 5.9.8's libtls offers 1.2 unless
 * `charon.tls.version_max` says otherwise; RFC 9190's TLS 1.3 variant is not done), a
 * client certificate is requested; the chain is not checked here (rejectUnauthorized off)
 * but by the IKE core with lib/ike/pki, like every other peer certificate. The client's
 * CertificateVerify and Finished are checked by the TLS library. MSK: RFC 5216 §2.3,
 * TLS-PRF(master_secret, "client EAP encryption", client_random|server_random)[0..63],
 * which is the TLS 1.2 keying-material exporter with that label and no context.
 *
 * node:tls is asynchronous: `write` pushes the client's flight, `poll` returns null until
 * the output has settled (a few milliseconds of quiet after the last byte, or the
 * handshake's end / an error).
 * @module
 */
import { Duplex } from "node:stream";
import * as tls from "node:tls";
import type { EapTlsEngine, EapTlsEngineFactory, EapTlsEngineResult } from "../../ike/v2/eap/tls.ts";

/** Quiet time after the engine's last output before its flight counts as complete (ms). */
const SETTLE_MS = 15;

/** Handshakes in progress at once (each holds a TLS socket until it ends or its IKE SA dies). */
export const MAX_LIVE_ENGINES = 256;

class NodeTlsEngine implements EapTlsEngine {
  private released = false;
  private readonly wire: Duplex;
  private readonly sock: tls.TLSSocket;
  private out: Buffer[] = [];
  private lastOut = 0;
  private busy = false;
  private secure = false;
  private error: string | null = null;
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(o: { certificate: string; privateKey: string; ca: readonly string[] }, private readonly onRelease: () => void) {
    this.wire = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => {
        this.out.push(Buffer.from(chunk));
        this.lastOut = Date.now();
        this.arm();
        cb();
      },
    });
    this.sock = new tls.TLSSocket(this.wire, {
      isServer: true, key: o.privateKey, cert: o.certificate, ca: [...o.ca], requestCert: true, rejectUnauthorized: false,
      minVersion: "TLSv1.2", maxVersion: "TLSv1.2",
    });
    this.sock.on("secure", () => {
      this.secure = true;
      this.arm();
    });
    this.sock.on("error", (e: Error) => {
      this.error ??= e.message;
      this.arm();
    });
  }

  /** Check again after SETTLE_MS of quiet. */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.busy) return;
      if (Date.now() - this.lastOut < SETTLE_MS - 1 && !this.error) return this.arm();
      if (this.error || this.secure || this.out.length) this.settled = true;
    }, SETTLE_MS);
  }

  write(data: Uint8Array): void {
    this.busy = true;
    this.settled = false;
    this.wire.push(Buffer.from(data));
    this.arm();
  }

  poll(): EapTlsEngineResult | null {
    if (!this.busy || !this.settled) return null;
    this.busy = false;
    this.settled = false;
    const out = new Uint8Array(Buffer.concat(this.out.splice(0)));
    if (this.error) return { state: "failed", out, error: this.error };
    if (!this.secure) return { state: "more", out };
    const version = this.sock.getProtocol() ?? "?";
    if (version !== "TLSv1.2") return { state: "failed", out, error: `negotiated ${version}, only TLS 1.2 is supported` };
    const msk = new Uint8Array(this.sock.exportKeyingMaterial(64, "client EAP encryption", undefined as unknown as Buffer)) // RFC 5216: no context;
    const peerCerts: Uint8Array[] = [];
    let c = this.sock.getPeerCertificate(true) as tls.DetailedPeerCertificate | null;
    const seen = new Set<tls.DetailedPeerCertificate>();
    while (c && c.raw && !seen.has(c) && peerCerts.length < 8) {
      seen.add(c);
      peerCerts.push(new Uint8Array(c.raw));
      c = c.issuerCertificate && c.issuerCertificate !== c ? c.issuerCertificate : null;
    }
    return { state: "done", out, msk, peerCerts, version, cipher: this.sock.getCipher()?.name ?? "?" };
  }

  destroy(): void {
    if (!this.released) {
      this.released = true;
      this.onRelease();
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.out = [];
    this.sock.destroy();
    this.wire.destroy();
  }
}

/** An engine factory that holds at most `max` live engines; past it, making one throws (the IKE core refuses that client). */
export function nodeEapTlsEngines(max = MAX_LIVE_ENGINES): EapTlsEngineFactory & { live(): number } {
  let live = 0;
  const f = (o: Parameters<EapTlsEngineFactory>[0]) => {
    if (live >= max) throw new Error(`${max} EAP-TLS handshakes already in progress`);
    const e = new NodeTlsEngine(o, () => live--);
    live++;
    return e;
  };
  return Object.assign(f, { live: () => live });
}

/** The platform's EAP-TLS engine factory (node:tls), at most {@link MAX_LIVE_ENGINES} at once. */
export const nodeEapTlsEngine: EapTlsEngineFactory = nodeEapTlsEngines();
