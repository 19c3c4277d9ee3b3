/**
 * `--stats` text output: one block per IKE SA, one table row per ESP SA.
 * @module
 */
import type { DecodeStats } from "./pipeline.ts";
import type { RunDecodeResult } from "./run.ts";
import { isoTime } from "./summary.ts";

function secText(t: number): string {
  const s = Math.floor(t);
  return isoTime(s, Math.round((t - s) * 1e9));
}

/** Lines of the stats report. */
export function renderStats(st: DecodeStats, res: RunDecodeResult): string[] {
  const out: string[] = [];
  out.push(`packets: ${res.packets}, with anomalies: ${res.anomalousPackets} (${res.anomalies} anomalies)`);
  if (st.fragments.held || st.fragments.expired) {
    out.push(`IP fragments: ${st.fragments.held} held, ${st.fragments.reassembled} datagrams reassembled, ${st.fragments.expired} incomplete`);
  }
  out.push("");
  out.push(`IKE SAs: ${st.ikeSas.length}${st.ikeSasUntracked ? ` (+${st.ikeSasUntracked} messages beyond the tracking cap)` : ""}`);
  for (const sa of st.ikeSas) {
    out.push(`  IKEv${sa.version} ${sa.ispi}/${sa.rspi}  ${sa.initiator} -> ${sa.responder}`);
    out.push(`    packets ${sa.firstNo}..${sa.lastNo}, ${sa.messages} messages${sa.fragments ? ` (${sa.fragments} packets were RFC 7383 fragments)` : ""}, ${secText(sa.firstTs)} .. ${secText(sa.lastTs)}`);
    for (const ex of sa.exchanges) {
      const fr = (n?: number) => (n ? ` (${n} fragments)` : "");
      const req = ex.requestNo !== undefined ? `#${ex.requestNo}${fr(ex.requestFragments)}` : "-";
      const rsp = ex.responseNo !== undefined ? `#${ex.responseNo}${fr(ex.responseFragments)}` : "no response";
      const rt = ex.retransmits ? `, ${ex.retransmits} retransmit${ex.retransmits > 1 ? "s" : ""}` : "";
      const err = ex.errors.length ? `  ERROR ${ex.errors.join(", ")}` : "";
      out.push(`    ${ex.exchange.padEnd(16)} mid ${String(ex.messageId).padEnd(10)} req ${req.padEnd(7)} resp ${rsp}${rt}${err}`);
    }
    if (sa.exchangesOmitted) out.push(`    (+${sa.exchangesOmitted} more exchanges)`);
    out.push(`    outcome: ${sa.outcome}`);
  }
  out.push("");
  out.push(`ESP SAs: ${st.espSas.length}`);
  if (st.espSas.length) {
    out.push("  SPI         src -> dst                               packets      bytes  seq range          missing  dup  reorder  pkts");
    for (const e of st.espSas) {
      const ends = `${e.src}${e.sport !== undefined ? "." + e.sport : ""} -> ${e.dst}${e.dport !== undefined ? "." + e.dport : ""}`;
      const range = `${e.minSeq}..${e.maxSeq}`;
      out.push(
        `  ${e.spiHex.padEnd(11)} ${ends.padEnd(40)} ${String(e.packets).padStart(7)} ${String(e.bytes).padStart(10)}  ${range.padEnd(18)} ${String(e.missing).padStart(7)} ${String(e.duplicates).padStart(4)} ${String(e.outOfOrder).padStart(8)}  #${e.first.no}..#${e.last.no}`,
      );
      for (const g of e.gaps) out.push(`      gap: seq ${g.fromSeq}..${g.toSeq} (${g.count}) missing between packets #${g.afterPacket} and #${g.atPacket}${g.filledLate ? `, ${g.filledLate} arrived late` : ""}`);
      if (e.gapsTruncated) out.push(`      (more gaps not listed)`);
      if (e.esnWraps) out.push(`      sequence wrapped ${e.esnWraps} time(s): ESN in use?`);
    }
    for (const pr of st.espPairs) {
      const a = st.espSas.find((x) => x.id === pr.a), b = st.espSas.find((x) => x.id === pr.b);
      if (a && b) out.push(`  pair: ${a.spiHex} <-> ${b.spiHex}`);
    }
    for (const id of st.espOneWay) {
      const a = st.espSas.find((x) => x.id === id);
      if (a) out.push(`  one-way: ${a.spiHex} (${a.src} -> ${a.dst}) has no ESP SA in the reverse direction`);
    }
  }
  return out;
}
