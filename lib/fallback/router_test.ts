import assert from "node:assert/strict";
import { fallbackRouter } from "./router.ts";
import type { RouteConfirmer } from "../core/confirmer.ts";
import type { Route } from "../core/types.ts";

const route = (routespec: string, port = 9000): Route => ({
  routespec,
  target: `http://127.0.0.1:${port}`,
  data: {},
});

/** A traefik confirmer under the test's control: records each ask, settles on release(). */
function fakeTraefik() {
  const asked: string[] = [];
  const held: (() => void)[] = [];
  const confirmer: RouteConfirmer = {
    served(routes) {
      asked.push(...routes.map((r) => `served ${r.routespec} ${r.target}`));
      return new Promise((resolve) => held.push(resolve));
    },
    removed(specs) {
      asked.push(...specs.map((s) => `removed ${s}`));
      return new Promise((resolve) => held.push(resolve));
    },
  };
  return {
    confirmer,
    asked,
    release() {
      for (const resolve of held.splice(0)) resolve();
    },
    /** Releases until nothing is held any more (changes that follow others ask later). */
    async drain() {
      for (let i = 0; i < 10; i++) {
        for (const resolve of held.splice(0)) resolve();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    },
  };
}

async function started(initial: Route[] = []) {
  const traefik = fakeTraefik();
  const background = fakeTraefik();
  const router = fallbackRouter({
    traefik: traefik.confirmer,
    background: background.confirmer,
    indexWaitMs: 200,
  });
  await router.apply({ set: initial });
  return { router, traefik, background };
}

// Resolves to "done" when the promise settles within a few turns of the event loop, else "waiting".
async function state(promise: Promise<unknown>): Promise<"done" | "waiting"> {
  return await Promise.race([
    promise.then(() => "done" as const),
    new Promise<"waiting">((resolve) => setTimeout(() => resolve("waiting"), 20)),
  ]);
}

Deno.test("a new route is confirmed once the fallback has it, without traefik", async () => {
  const { router, traefik, background } = await started([route("/")]);
  assert.equal(router.pending, 0); // the table at start is traefik's already
  const confirmed = router.confirm.served([route("/user/a/")]);
  assert.equal(await state(confirmed), "waiting"); // the store's change has not arrived yet
  await router.apply({ set: [route("/user/a/")] });
  assert.equal(await state(confirmed), "done");
  assert.deepEqual(traefik.asked, []);
  assert.deepEqual(background.asked, ["served /user/a/ http://127.0.0.1:9000"]);
  assert.equal(router.pending, 1);
  assert.equal(router.match({ path: "/user/a/tree" })?.routespec, "/user/a/");
  background.release();
  await router.close();
  assert.equal(router.pending, 0);
});

Deno.test("the same route again is confirmed at once", async () => {
  const { router, traefik } = await started([route("/user/a/")]);
  await router.apply({ set: [route("/user/a/")] });
  assert.equal(await state(router.confirm.served([route("/user/a/")])), "done");
  assert.deepEqual(traefik.asked, []);
  assert.equal(router.pending, 0);
});

Deno.test("a changed target waits for traefik: its old router answers until then", async () => {
  const { router, traefik } = await started([route("/user/a/")]);
  await router.apply({ set: [route("/user/a/", 9001)] });
  const confirmed = router.confirm.served([route("/user/a/", 9001)]);
  assert.equal(await state(confirmed), "waiting");
  assert.deepEqual(traefik.asked, ["served /user/a/ http://127.0.0.1:9001"]);
  traefik.release();
  assert.equal(await state(confirmed), "done");
});

Deno.test("a route inside another waits for traefik; the root route never does", async () => {
  const { router, traefik, background } = await started([route("/"), route("/user/a/")]);
  await router.apply({ set: [route("/user/a/lab/"), route("/", 8081)] });
  const inside = router.confirm.served([route("/user/a/lab/")]);
  assert.equal(await state(inside), "waiting");
  assert.equal(await state(router.confirm.served([route("/", 8081)])), "done");
  assert.deepEqual(traefik.asked, ["served /user/a/lab/ http://127.0.0.1:9000"]);
  traefik.release();
  assert.equal(await state(inside), "done");
  background.release();
  await router.close();
});

Deno.test("a route deleted moments ago, or inside one, waits for traefik", async () => {
  const { router, traefik, background } = await started([route("/user/a/")]);
  await router.apply({ delete: ["/user/a/"] });
  assert.equal(router.pending, 1); // traefik still has /user/a/'s router
  await router.apply({ set: [route("/user/a/", 9001), route("/user/a/b/")] });
  const again = router.confirm.served([route("/user/a/", 9001)]);
  const inside = router.confirm.served([route("/user/a/b/")]);
  assert.equal(await state(again), "waiting");
  assert.equal(await state(inside), "waiting");
  assert.equal(traefik.asked.length, 2);
  traefik.release();
  await background.drain();
  await router.close();
});

Deno.test("a change that never reaches the fallback waits for traefik", async () => {
  const { router, traefik } = await started();
  const confirmed = router.confirm.served([route("/user/a/")]);
  await new Promise((resolve) => setTimeout(resolve, 250)); // past indexWaitMs
  assert.deepEqual(traefik.asked, ["served /user/a/ http://127.0.0.1:9000"]);
  traefik.release();
  await confirmed;
});

Deno.test("a deletion waits for traefik and for the fallback", async () => {
  const { router, traefik, background } = await started([route("/user/a/")]);
  const removed = router.confirm.removed(["/user/a/"]);
  traefik.release();
  assert.equal(await state(removed), "waiting"); // the fallback still has it
  await router.apply({ delete: ["/user/a/"] });
  traefik.release();
  assert.equal(await state(removed), "done");
  assert.equal(router.match({ path: "/user/a/" }), undefined);
  background.release();
  await router.close();
});

Deno.test("a deletion of a route traefik has not loaded yet waits for traefik to load it first", async () => {
  const { router, traefik, background } = await started();
  await router.apply({ set: [route("/user/a/")] });
  await router.confirm.served([route("/user/a/")]); // at once, through the fallback
  const removed = router.confirm.removed(["/user/a/"]);
  await router.apply({ delete: ["/user/a/"] });
  // traefik shows no router for /user/a/: not because it was removed, but because the add is
  // not loaded yet. The deletion is not confirmed before the add was seen.
  traefik.release();
  assert.equal(await state(removed), "waiting");
  assert.deepEqual(traefik.asked, []);
  background.release(); // traefik has taken the add over
  await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(traefik.asked, ["removed /user/a/"]);
  traefik.release();
  assert.equal(await state(removed), "done");
  await background.drain();
  await router.close();
});

Deno.test("a change traefik was not seen to take over leaves the routespec waiting for traefik", async () => {
  const failing: RouteConfirmer = {
    served: () => Promise.reject(new Error("timed out")),
    removed: () => Promise.reject(new Error("timed out")),
  };
  const traefik = fakeTraefik();
  const router = fallbackRouter({ traefik: traefik.confirmer, background: failing });
  await router.apply({ set: [] });
  await router.apply({ set: [route("/user/a/", 9001)] });
  await router.close();
  assert.equal(router.pending, 1); // unknown, not settled
  // The same route again: traefik's state is unknown, so it waits for traefik.
  const again = router.confirm.served([route("/user/a/", 9001)]);
  assert.equal(await state(again), "waiting");
  traefik.release();
  await again;
});

Deno.test("a deletion ends its wait when the route is set again (the changes may reach traefik together)", async () => {
  // Deleted, then added back before traefik's next write: traefik may never drop the router.
  const { router, traefik, background } = await started([route("/user/a/")]);
  await router.apply({ delete: ["/user/a/"] });
  const deleted = router.confirm.removed(["/user/a/"]);
  assert.equal(await state(deleted), "waiting");
  await router.apply({ set: [route("/user/a/")] });
  assert.equal(await state(deleted), "done", "traefik never confirmed the removal");
  // Both changes merged into one (the fallback never saw the deletion): the same.
  const merged = router.confirm.removed(["/user/a/"]);
  assert.equal(await state(merged), "waiting");
  await router.apply({ set: [route("/user/a/", 9001)] });
  assert.equal(await state(merged), "done");
  traefik.release();
  await background.drain();
  await traefik.drain();
  await router.close();
});

Deno.test("a deletion alone, or a change that is not its own target, does not end a wait", async () => {
  const { router, traefik, background } = await started([route("/user/a/"), route("/user/b/")]);
  const deleted = router.confirm.removed(["/user/a/"]);
  await router.apply({ delete: ["/user/a/"] }); // the deletion itself reaches the fallback later
  assert.equal(await state(deleted), "waiting");
  // A changed target waits for traefik; the same target set again does not end that wait, a
  // deletion does.
  await router.apply({ set: [route("/user/b/", 9001)] });
  const changed = router.confirm.served([route("/user/b/", 9001)]);
  assert.equal(await state(changed), "waiting");
  await router.apply({ set: [{ ...route("/user/b/", 9001), data: { n: 1 } }] });
  assert.equal(await state(changed), "waiting");
  await router.apply({ delete: ["/user/b/"] });
  assert.equal(await state(changed), "done");
  traefik.release();
  assert.equal(await state(deleted), "done");
  await background.drain();
  await traefik.drain();
  await router.close();
});

Deno.test("a change superseded before traefik showed it does not hold up the next one", async () => {
  // traefik never shows a target that was replaced before it loaded it (both changes reached
  // its file in one write): the served() of such a target would wait for the whole timeout.
  const never = new Promise<void>(() => {});
  const background: RouteConfirmer = {
    served: () => never,
    removed: () => Promise.resolve(),
  };
  const traefik: RouteConfirmer = { served: () => never, removed: () => Promise.resolve() };
  const router = fallbackRouter({ traefik, background, indexWaitMs: 200 });
  await router.apply({ set: [route("/")] });
  await router.apply({ set: [route("/user/a/")] });
  await router.apply({ set: [route("/user/a/", 9001)] });
  await router.apply({ delete: ["/user/a/"] });
  assert.equal(await state(router.confirm.removed(["/user/a/"])), "done");
  assert.equal(router.match({ path: "/user/a/x" })?.routespec, "/");
});
