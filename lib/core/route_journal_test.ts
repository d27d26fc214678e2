import assert from "node:assert/strict";
import { journalEntry, readJournal } from "./route_journal.ts";

const a = { routespec: "/a/", target: "http://h:1", data: { n: 1, deep: { x: [1, "y"] } } };
const b = { ...a, routespec: "/b/", lastActivity: "2026-01-01T00:00:00.000Z" };

Deno.test("journal entries read back as the changes written, in order", () => {
  const changes = [{ set: [a, b] }, { delete: ["/a/"] }, { set: [a], delete: ["/b/"] }];
  const text = changes.map(journalEntry).join("");
  assert.deepEqual(readJournal(text), { changes, skipped: [] });
});

Deno.test("journalEntry leaves out empty parts", () => {
  assert.equal(journalEntry({ set: [], delete: ["/a/"] }), '{"delete":["/a/"]}\n');
  assert.equal(journalEntry({}), "{}\n");
});

Deno.test("readJournal skips what is not a change, with a message each", () => {
  const rows: [string, RegExp][] = [
    ["not json", /entry 1: not JSON/],
    ["[1]", /entry 1: not a route change/],
    ['{"set":{"routespec":"/a/"}}', /not a route change/],
    ['{"set":[{"routespec":"/a/","target":"http://h:1"}]}', /not a route change/], // no data
    ['{"set":[{"routespec":"/a/","target":5,"data":{}}]}', /not a route change/],
    ['{"delete":[1]}', /not a route change/],
    ['{"set":[{"routespec":"/a/","target":"h","data":{},"lastActivity":1}]}', /not a route/],
  ];
  for (const [line, message] of rows) {
    const read = readJournal(`${line}\n${journalEntry({ delete: ["/z/"] })}`);
    assert.deepEqual(read.changes, [{ delete: ["/z/"] }], line);
    assert.equal(read.skipped.length, 1, line);
    assert.match(read.skipped[0], message, line);
  }
});

Deno.test("readJournal: an empty journal has no changes; a last line without newline is unfinished", () => {
  assert.deepEqual(readJournal(""), { changes: [], skipped: [] });
  const read = readJournal(journalEntry({ delete: ["/a/"] }) + '{"delete":["/b/"]}');
  assert.deepEqual(read.changes, [{ delete: ["/a/"] }]);
  assert.match(read.skipped[0], /unfinished last entry \(18 bytes/);
});
