import assert from "node:assert/strict";
import {
  closePayload,
  encodeFrame,
  frameDecoder,
  messageAssembler,
  OPCODE,
  WsProtocolError,
} from "./_ws_frames.ts";

Deno.test("frames round-trip at every length encoding, masked or not, in any chunking", () => {
  for (const length of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
    for (const mask of [false, true]) {
      const payload = crypto.getRandomValues(new Uint8Array(Math.min(length, 65_536)));
      const full = new Uint8Array(length);
      for (let i = 0; i < length; i += payload.length) full.set(payload.subarray(0, length - i), i);
      const bytes = encodeFrame({ opcode: OPCODE.binary, payload: full }, { mask });
      assert.equal(bytes[1] & 0x80, mask ? 0x80 : 0);
      const decoder = frameDecoder({ maxPayload: 1 << 20 });
      const frames = [];
      // Fed in uneven pieces: a header split across reads too.
      for (let i = 0; i < bytes.length; i += 7_001) {
        frames.push(...decoder.push(bytes.slice(i, i + 7_001)));
      }
      assert.equal(frames.length, 1, `length ${length}`);
      assert.equal(frames[0].opcode, OPCODE.binary);
      assert.ok(frames[0].fin);
      assert.deepEqual(frames[0].payload, full);
    }
  }
});

Deno.test("several frames in one read come out in order", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  const bytes = [
    encodeFrame({ opcode: OPCODE.text, payload: text("a"), fin: false }, { mask: false }),
    encodeFrame({ opcode: OPCODE.ping, payload: text("p") }, { mask: false }),
    encodeFrame({ opcode: OPCODE.continuation, payload: text("b") }, { mask: false }),
  ];
  const joined = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of bytes) joined.set(b, (offset += b.length) - b.length);
  const frames = frameDecoder({ maxPayload: 100 }).push(joined);
  const assemble = messageAssembler({ maxMessage: 100 });
  const events = frames.map(assemble).filter((event) => event !== undefined);
  assert.deepEqual(events, [
    { kind: "ping", payload: text("p") },
    { kind: "message", data: "ab" },
  ]);
});

Deno.test("frames and messages RFC 6455 forbids are refused with the close code to send", () => {
  const refused = (bytes: number[], code: number) =>
    assert.throws(
      () => frameDecoder({ maxPayload: 200 }).push(Uint8Array.from(bytes)),
      (error) => error instanceof WsProtocolError && error.code === code,
    );
  refused([0xc1, 0], 1002); // a reserved bit (compression was not agreed)
  refused([0x83, 0], 1002); // an unknown opcode
  refused([0x09, 0], 1002); // a fragmented ping
  refused([0x89, 126, 0, 126], 1002); // a ping over 125 bytes
  refused([0x82, 126, 0, 201], 1009); // over maxPayload
  refused([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0], 1009); // announced over maxPayload
  assert.throws(
    () =>
      frameDecoder({ maxPayload: 200, masked: false }).push(Uint8Array.of(0x82, 0x80, 1, 2, 3, 4)),
    (error) => error instanceof WsProtocolError && error.code === 1002,
    "a server's frame must not be masked",
  );
  const assemble = messageAssembler({ maxMessage: 4 });
  const frame = (opcode: number, payload: number[], fin = true) => ({
    opcode,
    fin,
    payload: Uint8Array.from(payload),
  });
  const throwsCode = (fn: () => unknown, code: number) =>
    assert.throws(fn, (error) => error instanceof WsProtocolError && error.code === code);
  throwsCode(() => assemble(frame(OPCODE.continuation, [1])), 1002);
  throwsCode(() => assemble(frame(OPCODE.text, [0xff])), 1007);
  throwsCode(() => assemble(frame(OPCODE.close, [0x03, 0xed])), 1002); // 1005 is never sent
  throwsCode(() => assemble(frame(OPCODE.close, [3])), 1002);
  assemble(frame(OPCODE.binary, [1, 2, 3], false));
  throwsCode(() => assemble(frame(OPCODE.continuation, [4, 5])), 1009);
  const again = messageAssembler({ maxMessage: 4 });
  again(frame(OPCODE.binary, [1], false));
  throwsCode(() => again(frame(OPCODE.text, [2])), 1002); // a message inside another
});

Deno.test("close payloads: code and reason, cut at a character boundary", () => {
  const payload = closePayload(4000, "é".repeat(100));
  assert.ok(payload.length <= 125);
  const event = messageAssembler({ maxMessage: 10 })({
    fin: true,
    opcode: OPCODE.close,
    payload,
  });
  assert.deepEqual(event, { kind: "close", code: 4000, reason: "é".repeat(61) });
});
