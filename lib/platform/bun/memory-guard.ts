/**
 * Keeps a responder's memory near its baseline under a flood: every `everyMs` the resident set
 * is read, and once it has grown `slackBytes` above the smallest value seen, a full garbage
 * collection runs (at most 4 a second). A spoofed IKE_SA_INIT flood allocates a buffer per
 * datagram read and per COOKIE answer; JavaScriptCore's heuristics let that garbage pile up
 * (measured: +40 MB in 12 s at 75,000 requests/s, with or without --smol), a full collection
 * returns most of it (12 s flood at ~140k requests/s: peak 113.8-126.4 MiB without, 103.2 with
 * 16 MB / 1 s, 98.2 with 8 MB / 250 ms). Costs a few ms per collection; nothing when idle;
 * after two minutes above the mark the current size becomes the new low (held state, not garbage).
 *
 * A full collection's cost grows with the live heap: with 1,000 IKE SAs held and handshakes
 * coming in, one took ~70 ms, and four a second were ~27 % of the main thread (bench/ike/held.sh
 * profile, bench/ike/RESULTS.md (d)). So the guard keeps its collections to `maxShare` of the
 * thread's time: after a collection of `t` ms the next waits at least `t / maxShare` ms (never
 * less than 250 ms). A collection that gave nothing back (the RSS at the next look not at least
 * `slackBytes / 2` below what it was before it: held state, e.g. 1,000 SAs, not garbage) makes
 * the next wait five times as long (`maxShare / 5`); a useful one puts the share back. A small
 * heap under a flood (a few ms per collection) is guarded as before.
 * @module
 */

export function startMemoryGuard(slackBytes = 8 << 20, everyMs = 250, maxShare = 0.05): () => void {
  let low = process.memoryUsage.rss();
  let lastGc = 0, highSince = 0, gap = 250;
  /** RSS right before the last collection and its duration (ms), until the next look judges it. */
  let judge: { rss: number; ms: number } | null = null;
  const t = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (judge !== null) {
      const useful = rss <= judge.rss - slackBytes / 2;
      gap = Math.max(250, judge.ms / (useful ? maxShare : maxShare / 5));
      judge = null;
    }
    if (rss < low) low = rss;
    const now = Date.now();
    if (rss <= low + slackBytes) highSince = 0;
    else if (highSince === 0) highSince = now;
    else if (now - highSince > 120_000) {
      // two minutes above: memory the process holds (many SAs), not garbage: the new low
      low = rss;
      highSince = 0;
      return;
    }
    if (rss > low + slackBytes && now - lastGc >= gap) {
      const t0 = performance.now();
      Bun.gc(true);
      const ms = performance.now() - t0;
      lastGc = Date.now();
      gap = Math.max(250, ms / maxShare);
      judge = { rss, ms };
    }
  }, everyMs);
  (t as { unref?: () => void }).unref?.();
  return () => clearInterval(t);
}
