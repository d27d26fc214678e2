import assert from "node:assert/strict";
import { ProtobufError, ProtoReader, ProtoWriter } from "./_protobuf.ts";

Deno.test("protobuf: varints up to 2^53 - 1 and strings round-trip, defaults left out", () => {
  const values = [1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
  const writer = new ProtoWriter();
  values.forEach((value, i) => writer.uint(i + 1, value));
  writer.uint(20, 0).bool(21, false).bytes(22, "").bytes(23, "hé").uint(24, 0, true);
  const reader = new ProtoReader(writer.finish());
  const seen: [number, unknown][] = [];
  while (reader.next()) {
    seen.push([reader.field, reader.field === 23 ? reader.string() : reader.uint()]);
  }
  assert.deepEqual(seen, [...values.map((value, i) => [i + 1, value]), [23, "hé"], [24, 0]]);
});

Deno.test("protobuf: a large message grows the writer; unread fields of every wire type are skipped", () => {
  const big = "x".repeat(100_000);
  const bytes = new ProtoWriter().bytes(1, big).uint(2, 7).finish();
  const reader = new ProtoReader(bytes);
  assert.ok(reader.next());
  assert.equal(reader.string().length, 100_000);
  // fixed64 (field 3), fixed32 (field 4), a varint and bytes left unread, then field 9.
  const mixed = new Uint8Array([
    0x19,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0x25,
    1,
    2,
    3,
    4,
    0x28,
    0x96,
    0x01,
    0x32,
    2,
    0,
    0,
    0x48,
    5,
  ]);
  const walk = new ProtoReader(mixed);
  const fields: number[] = [];
  let last = 0;
  while (walk.next()) {
    fields.push(walk.field);
    if (walk.field === 9) last = walk.uint();
  }
  assert.deepEqual(fields, [3, 4, 5, 6, 9]);
  assert.equal(last, 5);
});

Deno.test("protobuf: truncated and malformed input is a ProtobufError", () => {
  const cases: [string, number[], (reader: ProtoReader) => void][] = [
    ["a varint cut short", [0x08, 0x80], (r) => r.uint()],
    ["a length past the end", [0x0a, 5, 1], (r) => r.bytes()],
    ["a skipped field past the end", [0x0a, 5, 1], () => {}],
    ["a varint of 11 bytes", [0x08, ...Array(10).fill(0xff), 1], (r) => r.uint()],
    ["an unsupported wire type", [0x0b], () => {}],
    ["a varint read as bytes", [0x08, 1], (r) => r.bytes()],
  ];
  for (const [what, bytes, read] of cases) {
    const reader = new ProtoReader(new Uint8Array(bytes));
    assert.throws(
      () => {
        while (reader.next()) read(reader);
      },
      ProtobufError,
      what,
    );
  }
  assert.throws(() => new ProtoWriter().uint(1, -1), RangeError);
  assert.throws(() => new ProtoWriter().uint(1, 2 ** 53), RangeError);
});

// A plain reference: each nested message built on its own, then added with its length.
function reference(fields: [number, string | Uint8Array | number][]): Uint8Array {
  const out: number[] = [];
  const varint = (value: number) => {
    while (value >= 0x80) {
      out.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    out.push(value);
  };
  for (const [field, value] of fields) {
    if (typeof value === "number") {
      varint(field * 8);
      varint(value);
      continue;
    }
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    if (typeof value === "string" && bytes.length === 0) continue; // proto3 leaves it out
    varint(field * 8 + 2);
    varint(bytes.length);
    out.push(...bytes);
  }
  return new Uint8Array(out);
}

Deno.test("protobuf: nested messages and strings get the same bytes as a plain encoder, at every length", () => {
  // Lengths around the varint boundaries (127/128, 16,383/16,384), ASCII and multi-byte text.
  for (const length of [0, 1, 42, 127, 128, 129, 300, 16_383, 16_384, 20_000]) {
    for (const unit of ["a", "é", "€", "😀"]) {
      const text = unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
      const inner = reference([[1, text], [2, 7]]);
      const want = reference([[3, 1], [4, inner], [5, text]]);
      const got = new ProtoWriter(8).uint(3, 1).begin(4).bytes(1, text).uint(2, 7).end()
        .bytes(5, text).finish();
      assert.deepEqual([...got], [...want], `${length} × ${JSON.stringify(unit)}`);
    }
  }
  // Nested twice, the inner one growing its outer one's length past a boundary.
  const deep = new ProtoWriter(4).begin(1).begin(2).bytes(1, "x".repeat(200)).end().end().finish();
  const deepWant = reference([[1, reference([[2, reference([[1, "x".repeat(200)]])]])]]);
  assert.deepEqual([...deep], [...deepWant]);
  assert.deepEqual([...new ProtoWriter(0).uint(1, 5).finish()], [0x08, 5]); // grows from nothing
  assert.throws(() => new ProtoWriter().begin(1).finish(), RangeError);
  assert.throws(() => new ProtoWriter().end(), RangeError);
});
