/**
 * The etcd v3 messages the etcd store sends and reads (`etcdserverpb` in etcd's `rpc.proto`,
 * `mvccpb` in `kv.proto`), encoded and decoded by field number. Pure.
 *
 * @module
 */

import { ProtoReader, ProtoWriter } from "./_protobuf.ts";

/**
 * One key-value pair as etcd returns it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdPair } from "./_etcd_messages.ts";
 * const pair: EtcdPair = { key: "jupyterhub/routes/r/target", value: "http://h:1", modRevision: 9 };
 * assert.equal(pair.modRevision, 9);
 * ```
 */
export interface EtcdPair {
  /** The key. */
  key: string;
  /** The value (empty in a deletion event). */
  value: string;
  /** The revision of the pair's last change. */
  modRevision: number;
}

/**
 * A change reported by a watch.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdEvent } from "./_etcd_messages.ts";
 * const event: EtcdEvent = { pair: { key: "a", value: "", modRevision: 3 }, deleted: true };
 * assert.ok(event.deleted);
 * ```
 */
export interface EtcdEvent {
  /** The pair (after a put) or the key (deleted, with an empty value). */
  pair: EtcdPair;
  /** Whether the key was deleted. */
  deleted: boolean;
}

/**
 * `RangeRequest`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { rangeRequest } from "./_etcd_messages.ts";
 * assert.deepEqual([...rangeRequest({ key: "a", countOnly: true })], [0x0a, 1, 0x61, 0x48, 1]);
 * ```
 */
export function rangeRequest(request: {
  key: string | Uint8Array;
  rangeEnd?: Uint8Array;
  limit?: number;
  revision?: number;
  countOnly?: boolean;
}): Uint8Array {
  return new ProtoWriter()
    .bytes(1, request.key, true)
    .bytes(2, request.rangeEnd ?? new Uint8Array())
    .uint(3, request.limit ?? 0)
    .uint(4, request.revision ?? 0)
    .bool(9, request.countOnly ?? false)
    .finish();
}

/**
 * `RangeResponse`: the header's revision, the pairs, `more`, `count`, and the last pair's key
 * as etcd sent it (a copy).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { rangeResponse } from "./_etcd_messages.ts";
 * // header { revision: 5 }, kvs [{ key: "a", mod_revision: 4, value: "1" }], more
 * const bytes = new Uint8Array([0x0a, 2, 0x18, 5, 0x12, 8, 0x0a, 1, 0x61, 0x18, 4, 0x2a, 1, 0x31, 0x18, 1]);
 * const range = rangeResponse(bytes);
 * assert.equal(range.revision, 5);
 * assert.equal(range.more, true);
 * assert.deepEqual(range.pairs, [{ key: "a", value: "1", modRevision: 4 }]);
 * assert.deepEqual([...range.lastKey!], [0x61]);
 * ```
 */
export function rangeResponse(bytes: Uint8Array): {
  revision: number;
  pairs: EtcdPair[];
  more: boolean;
  count: number;
  lastKey?: Uint8Array;
} {
  const out = { revision: 0, pairs: [] as EtcdPair[], more: false, count: 0 };
  let last: Uint8Array | undefined;
  const reader = new ProtoReader(bytes);
  while (reader.next()) {
    switch (reader.field) {
      case 1:
        out.revision = headerRevision(reader.bytes());
        break;
      case 2:
        last = reader.bytes();
        out.pairs.push(keyValue(last));
        break;
      case 3:
        out.more = reader.uint() !== 0;
        break;
      case 4:
        out.count = reader.uint();
        break;
    }
  }
  return last ? { ...out, lastKey: rawKey(last) } : out;
}

/**
 * One operation of a transaction.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdOp } from "./_etcd_messages.ts";
 * const ops: EtcdOp[] = [{ put: { key: "a", value: "1" } }, { delete: { key: "b" } }];
 * assert.equal(ops.length, 2);
 * ```
 */
export type EtcdOp = { put: { key: string; value: string } } | { delete: { key: string } };

/**
 * A transaction's condition on one key: its last change at `modRevision` (0: no such key); or,
 * with `rangeEnd` and `before`, on every key of a range: each last changed before `modRevision`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EtcdCondition } from "./_etcd_messages.ts";
 * const absent: EtcdCondition = { key: "jupyterhub/shared/x", modRevision: 0 };
 * const unchanged: EtcdCondition = {
 *   key: "a/",
 *   rangeEnd: new TextEncoder().encode("a0"),
 *   modRevision: 42,
 *   before: true,
 * };
 * assert.equal(absent.modRevision, 0);
 * assert.ok(unchanged.before);
 * ```
 */
export interface EtcdCondition {
  /** The key (the first of the range). */
  key: string;
  /** The revision of the key's last change; 0 for a key that does not exist. */
  modRevision: number;
  /** The end of a range of keys (exclusive, `prefixEnd`): the condition holds for each. */
  rangeEnd?: Uint8Array;
  /** The last change must be before `modRevision` rather than at it. */
  before?: boolean;
}

// Compare.CompareResult and Compare.CompareTarget.
const EQUAL = 0;
const LESS = 2;
const MOD = 2;

/**
 * `TxnRequest`: the conditions (`compare`) and the operations done when they hold (`success`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { txnRequest } from "./_etcd_messages.ts";
 * const bytes = txnRequest([{ delete: { key: "a" } }], []);
 * // success [RequestOp { request_delete_range { key: "a" } }]
 * assert.deepEqual([...bytes], [0x12, 5, 0x1a, 3, 0x0a, 1, 0x61]);
 * ```
 */
export function txnRequest(ops: EtcdOp[], compares: EtcdCondition[]): Uint8Array {
  const txn = new ProtoWriter(128 * ops.length + 256 * compares.length);
  for (const compare of compares) {
    txn.begin(1)
      .uint(1, compare.before ? LESS : EQUAL)
      .uint(2, MOD)
      .bytes(3, compare.key, true)
      .uint(6, compare.modRevision, true) // a member of target_union: sent even when 0
      .bytes(64, compare.rangeEnd ?? new Uint8Array())
      .end();
  }
  for (const op of ops) {
    txn.begin(2); // RequestOp
    if ("put" in op) txn.begin(2).bytes(1, op.put.key, true).bytes(2, op.put.value).end();
    else txn.begin(3).bytes(1, op.delete.key, true).end();
    txn.end();
  }
  return txn.finish();
}

/**
 * `TxnResponse`: whether the conditions held, and the revision.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { txnResponse } from "./_etcd_messages.ts";
 * assert.deepEqual(txnResponse(new Uint8Array([0x0a, 2, 0x18, 9, 0x10, 1])), {
 *   succeeded: true,
 *   revision: 9,
 * });
 * ```
 */
export function txnResponse(bytes: Uint8Array): { succeeded: boolean; revision: number } {
  const out = { succeeded: false, revision: 0 };
  const reader = new ProtoReader(bytes);
  while (reader.next()) {
    if (reader.field === 1) out.revision = headerRevision(reader.bytes());
    else if (reader.field === 2) out.succeeded = reader.uint() !== 0;
  }
  return out;
}

/**
 * `WatchRequest` with a `create_request` for a range, from now on.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { watchCreateRequest } from "./_etcd_messages.ts";
 * const bytes = watchCreateRequest({ key: "a", rangeEnd: new Uint8Array([0x62]) });
 * assert.deepEqual([...bytes], [0x0a, 6, 0x0a, 1, 0x61, 0x12, 1, 0x62]);
 * ```
 */
export function watchCreateRequest(range: { key: string; rangeEnd: Uint8Array }): Uint8Array {
  return new ProtoWriter().begin(1).bytes(1, range.key, true).bytes(2, range.rangeEnd).end()
    .finish();
}

/**
 * `WatchResponse`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { watchResponse } from "./_etcd_messages.ts";
 * // header { revision: 3 }, created
 * assert.deepEqual(watchResponse(new Uint8Array([0x0a, 2, 0x18, 3, 0x18, 1])), {
 *   revision: 3,
 *   created: true,
 *   canceled: false,
 *   cancelReason: "",
 *   compactRevision: 0,
 *   events: [],
 * });
 * ```
 */
export function watchResponse(bytes: Uint8Array): {
  revision: number;
  created: boolean;
  canceled: boolean;
  cancelReason: string;
  compactRevision: number;
  events: EtcdEvent[];
} {
  const out = {
    revision: 0,
    created: false,
    canceled: false,
    cancelReason: "",
    compactRevision: 0,
    events: [] as EtcdEvent[],
  };
  const reader = new ProtoReader(bytes);
  while (reader.next()) {
    switch (reader.field) {
      case 1:
        out.revision = headerRevision(reader.bytes());
        break;
      case 3:
        out.created = reader.uint() !== 0;
        break;
      case 4:
        out.canceled = reader.uint() !== 0;
        break;
      case 5:
        out.compactRevision = reader.uint();
        break;
      case 6:
        out.cancelReason = reader.string();
        break;
      case 11:
        out.events.push(watchEvent(reader.bytes()));
        break;
    }
  }
  return out;
}

/**
 * `AuthenticateRequest`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { authenticateRequest } from "./_etcd_messages.ts";
 * assert.deepEqual([...authenticateRequest("u", "p")], [0x0a, 1, 0x75, 0x12, 1, 0x70]);
 * ```
 */
export function authenticateRequest(name: string, password: string): Uint8Array {
  return new ProtoWriter().bytes(1, name, true).bytes(2, password).finish();
}

/**
 * The token of an `AuthenticateResponse` ("" when none).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { authenticateToken } from "./_etcd_messages.ts";
 * assert.equal(authenticateToken(new Uint8Array([0x12, 2, 0x74, 0x6b])), "tk");
 * ```
 */
export function authenticateToken(bytes: Uint8Array): string {
  const reader = new ProtoReader(bytes);
  let token = "";
  while (reader.next()) if (reader.field === 2) token = reader.string();
  return token;
}

// ResponseHeader.revision.
function headerRevision(bytes: Uint8Array): number {
  const reader = new ProtoReader(bytes);
  let revision = 0;
  while (reader.next()) if (reader.field === 3) revision = reader.uint();
  return revision;
}

// mvccpb.KeyValue: key 1, mod_revision 3, value 5.
function keyValue(bytes: Uint8Array): EtcdPair {
  const reader = new ProtoReader(bytes);
  let key = "";
  let value = "";
  let modRevision = 0;
  while (reader.next()) {
    if (reader.field === 1) key = reader.string();
    else if (reader.field === 3) modRevision = reader.uint();
    else if (reader.field === 5) value = reader.string();
  }
  return { key, value, modRevision };
}

// A KeyValue's key bytes (a copy).
function rawKey(bytes: Uint8Array): Uint8Array {
  const reader = new ProtoReader(bytes);
  while (reader.next()) if (reader.field === 1) return reader.bytes().slice();
  return new Uint8Array();
}

// mvccpb.Event: type 1 (PUT 0, DELETE 1), kv 2.
function watchEvent(bytes: Uint8Array): EtcdEvent {
  const reader = new ProtoReader(bytes);
  let deleted = false;
  let pair: EtcdPair = { key: "", value: "", modRevision: 0 };
  while (reader.next()) {
    if (reader.field === 1) deleted = reader.uint() === 1;
    else if (reader.field === 2) pair = keyValue(reader.bytes());
  }
  return { pair, deleted };
}
