/**
 * Young-generation garbage collections while the IKE side is busy (issue 12, memory per SA).
 * A handshake leaves a few hundred short-lived objects and buffers (decoded messages, crypto
 * scratch, actions) next to the few dozen an established SA keeps. JavaScriptCore collects the
 * young generation only after a large allocation budget, so by then the survivors are spread
 * thinly over many heap blocks, and a block with one live object stays resident: measured with
 * bench/ike/mem-sa.ts (1,000 SAs, one process) the heap's capacity was ~2x its live size. An
 * eden collection every `everyMs` while IKE datagrams come in keeps the survivors packed (heap
 * capacity per SA 13.4 → 7.9 KB with one per 8 handshakes in that bench); it costs ~0.4-2 ms
 * each (measured on the shared 2-core VM) and nothing while idle: no datagram, no collection.
 * @module
 */

/** Starts the timer; `activity` is any counter that moves when IKE work was done. Returns a stop function. */
export function startYoungGc(activity: () => number, everyMs = 50): () => void {
  let seen = activity();
  const t = setInterval(() => {
    const now = activity();
    if (now === seen) return;
    seen = now;
    Bun.gc(false);
  }, everyMs);
  (t as { unref?: () => void }).unref?.();
  return () => clearInterval(t);
}
