import assert from "node:assert/strict";
import type { ConsulHttp, ConsulListing } from "./_consul_http.ts";
import { watchConsul } from "./_consul_watch.ts";

// A consul whose blocking queries answer with the listings the test hands it, one per query.
function scriptedConsul() {
  const answers: ((listing: ConsulListing) => void)[] = [];
  let asked: () => void = () => {};
  const http: ConsulHttp = {
    list(_prefix, wait) {
      if (!wait) return Promise.resolve({ entries: [entry("r/a", "1", 5)], index: 5 });
      return new Promise((resolve, reject) => {
        answers.push(resolve);
        asked();
        wait.signal?.addEventListener("abort", () => reject(new Error("closed")));
      });
    },
    index: () => Promise.resolve(0),
    txn: () => Promise.resolve(undefined),
    get: () => Promise.resolve(undefined),
    cas: () => Promise.resolve(false),
    close() {},
  };
  return {
    http,
    // Answers the next blocking query with `listing`, once it has been asked.
    async answer(listing: ConsulListing) {
      while (answers.length === 0) await new Promise<void>((resolve) => asked = resolve);
      answers.shift()!(listing);
      await new Promise((resolve) => setTimeout(resolve, 5)); // taken, and the rest over
    },
  };
}

function entry(key: string, value: string, at: number) {
  return { Key: key, Value: btoa(value), ModifyIndex: at };
}

const set = (key: string, value: string) => ({
  KV: { Verb: "set" as const, Key: key, Value: btoa(value) },
});
const del = (key: string) => ({ KV: { Verb: "delete" as const, Key: key } });

// A watch over a scripted consul whose first listing holds r/a, and what it reported, in order.
async function watchedLog() {
  const consul = scriptedConsul();
  const seen: string[] = [];
  const watch = await watchConsul(consul.http, "r/", {
    changed: (key, value) => void seen.push(`${key}=${value}`),
    reset: () => void seen.push("reset"),
  });
  return { consul, seen, watch };
}

Deno.test("consul watch: an own transaction is reported at once, and not again when a listing brings it", async () => {
  const { consul, seen, watch } = await watchedLog();
  watch.committed([
    set("r/b", "2"),
    set("traefik/x", "t"), // not watched
    del("r/a"),
  ], 8);
  assert.deepEqual(seen, ["r/b=2", "r/a=null"]);
  await consul.answer({ entries: [entry("r/b", "2", 8)], index: 8 });
  assert.deepEqual(seen, ["r/b=2", "r/a=null"], "the listing repeats nothing");
  // A later listing with another process's change to the same key: reported.
  await consul.answer({ entries: [entry("r/b", "3", 9)], index: 9 });
  assert.deepEqual(seen, ["r/b=2", "r/a=null", "r/b=3"]);
  await watch.close();
});

Deno.test("consul watch: a listing older than an own transaction does not take its keys back", async () => {
  const { consul, seen, watch } = await watchedLog();
  // Committed at 10: r/a changed, r/c added; another process changed r/a at 7 and added r/d.
  watch.committed([
    set("r/a", "mine"),
    set("r/c", "new"),
  ], 10);
  // A listing from before the transaction (index 7): r/a's older value and r/c's absence say
  // nothing; r/d is the other process's and is reported.
  await consul.answer({ entries: [entry("r/a", "theirs", 7), entry("r/d", "4", 6)], index: 7 });
  assert.deepEqual(seen, ["r/a=mine", "r/c=new", "r/d=4"]);
  // Then a listing past it: nothing of ours again, and a deletion of r/d by the other.
  await consul.answer({ entries: [entry("r/a", "mine", 10), entry("r/c", "new", 10)], index: 11 });
  assert.deepEqual(seen, ["r/a=mine", "r/c=new", "r/d=4", "r/d=null"]);
  // A transaction the loop has already passed is not reported (a listing brought it).
  watch.committed([set("r/e", "5")], 11);
  assert.deepEqual(seen.length, 4);
  await watch.close();
});

Deno.test("consul watch: a deletion of an own key stands against an older listing", async () => {
  const { consul, seen, watch } = await watchedLog();
  // r/a (index 5) deleted by this process at 9, with r/b set in the same transaction.
  watch.committed([
    del("r/a"),
    set("r/b", "2"),
  ], 9);
  assert.deepEqual(seen, ["r/a=null", "r/b=2"]);
  // An older listing still has r/a, changed by another process at 8: it says nothing of it.
  await consul.answer({ entries: [entry("r/a", "other", 8)], index: 8 });
  assert.deepEqual(seen, ["r/a=null", "r/b=2"]);
  // Past the deletion: r/a gone, r/b ours; nothing new to report.
  await consul.answer({ entries: [entry("r/b", "2", 9)], index: 9 });
  assert.deepEqual(seen, ["r/a=null", "r/b=2"]);
  await watch.close();
});

Deno.test("consul watch: an own key set again stands against an older listing that lacks it", async () => {
  const { consul, seen, watch } = await watchedLog();
  // r/a (index 5) deleted by another process at 7, then set by this one at 10.
  watch.committed([set("r/a", "mine")], 10);
  await consul.answer({ entries: [], index: 7 }); // from before the set: no deletion
  await consul.answer({ entries: [entry("r/a", "mine", 10)], index: 10 });
  assert.deepEqual(seen, ["r/a=mine"]);
  await watch.close();
});

// A watch over a scripted consul whose first listing holds r/a, and the copy it keeps.
async function watchedCopy() {
  const consul = scriptedConsul();
  const copy = new Map<string, string>([["r/a", "1"]]);
  const watch = await watchConsul(consul.http, "r/", {
    changed(key, value) {
      if (value === null) copy.delete(key);
      else if (value !== undefined) copy.set(key, value);
    },
    reset: () => copy.clear(),
  });
  return { consul, copy, watch };
}

Deno.test("consul watch: an own key no listing has brought yet is seen going, by an own deletion or another's", async () => {
  // Added at 8, then deleted by a transaction that only deletes (consul gives it no index: it
  // goes through the listings).
  const first = await watchedCopy();
  first.watch.committed([set("r/b", "2")], 8);
  assert.deepEqual([...first.copy.keys()], ["r/a", "r/b"]);
  await first.consul.answer({ entries: [entry("r/a", "1", 5)], index: 9 });
  assert.deepEqual([...first.copy.keys()], ["r/a"]);
  await first.watch.close();
  // Added at 10, a listing from before it, then another process deletes it at 11.
  const second = await watchedCopy();
  second.watch.committed([set("r/b", "2")], 10);
  await second.consul.answer({ entries: [entry("r/a", "1", 5)], index: 7 });
  assert.deepEqual([...second.copy.keys()], ["r/a", "r/b"]);
  await second.consul.answer({ entries: [entry("r/a", "1", 5)], index: 11 });
  assert.deepEqual([...second.copy.keys()], ["r/a"]);
  await second.watch.close();
});

Deno.test("consul watch: an index that goes back (a restored snapshot) resets the copy to consul's", async () => {
  const { consul, copy, watch } = await watchedCopy();
  watch.committed([set("r/b", "2")], 100);
  await consul.answer({ entries: [entry("r/a", "1", 5)], index: 120 });
  assert.deepEqual([...copy.keys()], ["r/a"], "deleted at 120 by another");
  // A snapshot from index 50 restored: r/c came back, r/a went.
  await consul.answer({ entries: [entry("r/c", "3", 40)], index: 50 });
  assert.deepEqual([...copy], [], "reset: read again");
  await watch.close();
});
