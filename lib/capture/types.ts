/**
 * Capture input: public types shared by the pcap and pcapng readers.
 * @module
 */

/** One captured packet. */
export interface CaptureRecord {
  /** 1-based packet number in the capture (across all pcapng sections). */
  no: number;
  /** pcapng interface index within its section (0 for classic pcap). */
  iface: number;
  /** LINKTYPE_* of the interface (pcap: FCS bits of the header field masked off). */
  linkType: number;
  /** Whole seconds since the epoch (if_tsoffset already applied). */
  tsSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  tsNsec: number;
  /** Bytes captured (= data.length). */
  caplen: number;
  /** Bytes on the wire. */
  len: number;
  /**
   * Captured bytes. May be a view into a reader buffer: it is only guaranteed
   * valid until the next batch is requested from {@link CaptureReader.batches}.
   * Copy it (`data.slice()`) to keep it longer.
   */
  data: Uint8Array;
  /** pcapng packet comment (first opt_comment of an EPB/OPB). */
  comment?: string;
  /**
   * Live capture on Linux cooked links (SLL2, `-i any`) only: the name of interface
   * `ifindex` (the SLL2 header carries the index only). Shown on the summary line.
   */
  ifName?: string;
  /**
   * Live capture only: sockaddr_ll packet type (0 to us, 1 broadcast, 2 multicast,
   * 3 to another host, 4 sent by us); a pcapng writer stores it as the EPB direction.
   */
  pktType?: number;
}

/** What the reader found out about the input. */
export interface CaptureInfo {
  format: "pcap" | "pcapng";
  /** Input was gzip-compressed (magic 1f 8b). */
  gzip: boolean;
  /** Classic pcap only: nanosecond magic 0xa1b23c4d. */
  nanosecond?: boolean;
  /** Byte order of the file header (pcapng: of the first section). */
  byteOrder: "le" | "be";
}

/** Input is not a capture file we can read (bad magic, empty, truncated header). */
export class CaptureFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaptureFormatError";
  }
}

/** A file-level problem (bad record/block, truncated tail, corrupt gzip). */
export interface CaptureAnomaly {
  /** Packet number the problem belongs to (or would have been). */
  no: number;
  /** `"pcap"`, `"pcapng"` or `"gzip"`. */
  layer: string;
  /** Byte offset in the (decompressed) capture stream. */
  offset: number;
  reason: string;
}

/** Options for {@link openCapture} / {@link openCaptureStream}. */
export interface CaptureOptions {
  /** Called for every file-level anomaly, in order. */
  onAnomaly?: (a: CaptureAnomaly) => void;
  /** Maximum records per batch (default 256). */
  batchSize?: number;
  /**
   * Live input: yield the records of every chunk read at once, however few, instead
   * of filling batches (openCapture: default true for pipes, terminals and FIFOs).
   */
  live?: boolean;
}

/** A streaming capture reader. */
export interface CaptureReader {
  info: CaptureInfo;
  /**
   * Records in batches of up to `batchSize`. Reads lazily: the underlying
   * stream is only read when the consumer asks for more, so memory stays
   * constant. Call it once. Data views are valid until the next batch is requested.
   * Breaking out of the loop closes the input.
   */
  batches(): AsyncGenerator<CaptureRecord[]>;
  /** Raw (compressed, if gzip) input bytes read so far. */
  bytesRead(): number;
  /** Input size in bytes when known (regular files), for progress. */
  totalBytes?: number;
  /**
   * Live source (pipe, terminal, network interface): each batch is what was available
   * when it was read; consumers hand its output on at once instead of buffering.
   */
  live?: boolean;
  /** Release the source (a live capture's socket); safe while a batch is awaited. */
  close?(): void;
}

/** Sink for anomalies inside the format parsers. */
export type AnomalySink = (a: CaptureAnomaly) => void;

/**
 * A synchronous format parser: fed chunks in order, appends complete records
 * to `out`. Returns false once it has stopped (fatal anomaly) and wants no
 * more input.
 */
export interface ChunkParser {
  feed(chunk: Uint8Array, out: CaptureRecord[]): boolean;
  /** End of input: report a truncated tail, if any. */
  end(out: CaptureRecord[]): void;
}
