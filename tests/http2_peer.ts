// A hand-written HTTP/2 server for the tests of lib/net's HTTP/2 and gRPC clients: it reads the
// client's preface and frames (header blocks decoded) and writes whatever frames a test gives it.
import { type HeaderField, hpackDecoder } from "../lib/net/_hpack.ts";
import {
  encodeFrame,
  FLAG,
  FRAME,
  type FrameToSend,
  parseFrameHeader,
  PREFACE,
  settingsPayload,
  uint32Payload,
} from "../lib/net/_http2_frame.ts";
import { writeAll } from "../lib/net/write_all.ts";
import { joinBytes } from "../lib/core/bytes.ts";

/** A frame received from the client; `fields` for HEADERS (the client sends whole blocks). */
export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
  fields?: HeaderField[];
}

/** One accepted connection of the fake server. */
export class Peer {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** The client began with the connection preface. */
  preface = false;
  /** Resolves once the client closed the connection (or it failed). */
  readonly done: Promise<void>;
  #cursor = 0;
  #eof = false;
  #wake?: () => void;

  constructor(readonly conn: Deno.TcpConn) {
    conn.setNoDelay(true);
    this.done = this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const hpack = hpackDecoder();
    const chunk = new Uint8Array(64 * 1024);
    let buffer: Uint8Array = new Uint8Array(0);
    try {
      for (;;) {
        const read = await this.conn.read(chunk);
        if (read === null) break;
        buffer = joinBytes([buffer, chunk.subarray(0, read)]);
        if (!this.preface) {
          if (buffer.length < PREFACE.length) continue;
          if (!buffer.subarray(0, PREFACE.length).every((byte, i) => byte === PREFACE[i])) break;
          this.preface = true;
          buffer = buffer.subarray(PREFACE.length);
        }
        while (buffer.length >= 9) {
          const header = parseFrameHeader(buffer, 0);
          if (buffer.length < 9 + header.length) break;
          const frame: Frame = { ...header, payload: buffer.slice(9, 9 + header.length) };
          buffer = buffer.subarray(9 + header.length);
          if (frame.type === FRAME.HEADERS) frame.fields = hpack.decode(frame.payload);
          this.frames.push(frame);
          this.#wake?.();
        }
      }
    } catch {
      // closed
    } finally {
      this.#eof = true;
      this.#wake?.();
    }
  }

  /** The next frame of `type` (and `stream` if given); frames before it are passed over. */
  async next(type: number, stream?: number, ms = 5_000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.#cursor < this.frames.length) {
        const frame = this.frames[this.#cursor++];
        if (frame.type === type && (stream === undefined || frame.stream === stream)) return frame;
      }
      if (this.#eof) throw new Error(`the connection ended before a frame of type ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame of type ${type} within ${ms} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Frames received so far of `type` on `stream`. */
  received(type: number, stream?: number): Frame[] {
    return this.frames.filter((f) =>
      f.type === type && (stream === undefined || f.stream === stream)
    );
  }

  send(...frames: FrameToSend[]): Promise<void> {
    return writeAll(this.conn, encodeFrame(...frames));
  }

  /** Waits for the client's SETTINGS, answers with the server's and acknowledges the client's. */
  async handshake(settings: [number, number][] = []): Promise<Frame> {
    const clientSettings = await this.next(FRAME.SETTINGS);
    await this.send(
      { type: FRAME.SETTINGS, flags: 0, stream: 0, payload: settingsPayload(settings) },
      { type: FRAME.SETTINGS, flags: FLAG.ACK, stream: 0, payload: new Uint8Array() },
    );
    return clientSettings;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // closed
    }
  }
}

export interface FakeServer {
  port: number;
  readonly peers: Peer[];
  /** Connection `n` (0-based), once accepted (and its SETTINGS exchanged, with `handshake`). */
  peer(n?: number): Promise<Peer>;
  close(): Promise<void>;
}

export function fakeHttp2Server(options: { handshake?: boolean } = {}): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peers: Peer[] = [];
  const handshakes: Promise<unknown>[] = [];
  let wake: (() => void) | undefined;
  const accepting = (async () => {
    for await (const conn of listener) {
      const peer = new Peer(conn);
      peers.push(peer);
      if (options.handshake) handshakes.push(peer.handshake().catch(() => {}));
      wake?.();
    }
  })();
  return {
    port: listener.addr.port,
    peers,
    async peer(n = 0) {
      const deadline = Date.now() + 5_000;
      while (peers.length <= n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no connection ${n} accepted`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
      await handshakes[n];
      return peers[n];
    },
    async close() {
      try {
        listener.close();
      } catch {
        // closed
      }
      await accepting.catch(() => {});
      for (const peer of peers) peer.close();
      await Promise.all([...peers.map((peer) => peer.done), ...handshakes]);
    },
  };
}

/** `promise`, or a rejection after `ms` (a stalled exchange fails instead of hanging). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A GOAWAY frame: streams above `lastStream` were not processed. */
export function goAway(lastStream: number, code = 0): FrameToSend {
  const payload = joinBytes([uint32Payload(lastStream), uint32Payload(code)]);
  return { type: FRAME.GOAWAY, flags: 0, stream: 0, payload };
}

/** An RST_STREAM frame with an error code. */
export function resetStream(stream: number, code: number): FrameToSend {
  return { type: FRAME.RST_STREAM, flags: 0, stream, payload: uint32Payload(code) };
}
