/**
 * The journal of a file store: each committed batch of changes as one line of JSON, appended
 * to a file beside the table, so that acknowledging a change costs an append instead of a
 * rewrite of the whole table. The table file is rewritten now and then, and the journal emptied;
 * at the next start the changes it still holds are applied to the table read from the file.
 * Applying a batch twice gives the same table, so a crash between the rewrite and the emptying
 * loses nothing.
 *
 * @module
 */

import type { Route, RouteChange } from "./types.ts";

/**
 * One journal entry: the change as a line of JSON, with its newline. An entry whose newline is
 * missing was cut short by a crash before it was acknowledged, and is skipped when read.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { journalEntry, readJournal } from "./route_journal.ts";
 * const change = { set: [{ routespec: "/a/", target: "http://h:1", data: {} }], delete: ["/b/"] };
 * const entry = journalEntry(change);
 * assert.ok(entry.endsWith("\n"));
 * assert.deepEqual(readJournal(entry).changes, [change]);
 * ```
 */
export function journalEntry(change: RouteChange): string {
  const entry: RouteChange = {};
  if (change.set?.length) entry.set = change.set;
  if (change.delete?.length) entry.delete = change.delete;
  return JSON.stringify(entry) + "\n";
}

/** What `readJournal` found. */
export interface JournalContents {
  /** The entries, in order. */
  changes: RouteChange[];
  /** A message for each entry that could not be read. */
  skipped: string[];
}

/**
 * Reads a journal's text: its entries in order, and a message for each line that is not an
 * entry (an unfinished last line, or a line that is not a valid change).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJournal } from "./route_journal.ts";
 * const read = readJournal('{"delete":["/a/"]}\nnot json\n{"set":[{"routespec":"/b/"');
 * assert.deepEqual(read.changes, [{ delete: ["/a/"] }]);
 * assert.equal(read.skipped.length, 2);
 * ```
 */
export function readJournal(text: string): JournalContents {
  const changes: RouteChange[] = [];
  const skipped: string[] = [];
  const lines = text.split("\n");
  const last = lines.pop(); // "" after a final newline; else an entry cut short
  if (last) skipped.push(`an unfinished last entry (${last.length} bytes, never acknowledged)`);
  lines.forEach((line, i) => {
    if (line === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped.push(`entry ${i + 1}: not JSON`);
      return;
    }
    const change = asChange(value);
    if (change) changes.push(change);
    else skipped.push(`entry ${i + 1}: not a route change`);
  });
  return { changes, skipped };
}

function asChange(value: unknown): RouteChange | undefined {
  if (!isObject(value)) return undefined;
  const { set, delete: gone } = value as { set?: unknown; delete?: unknown };
  const change: RouteChange = {};
  if (set !== undefined) {
    if (!Array.isArray(set) || !set.every(isRoute)) return undefined;
    change.set = set;
  }
  if (gone !== undefined) {
    if (!Array.isArray(gone) || !gone.every((spec) => typeof spec === "string")) return undefined;
    change.delete = gone;
  }
  return change;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRoute(value: unknown): value is Route {
  return isObject(value) && typeof value.routespec === "string" &&
    typeof value.target === "string" && isObject(value.data) &&
    (value.lastActivity === undefined || typeof value.lastActivity === "string");
}
