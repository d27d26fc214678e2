import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { apiPasswordHash, generateApiPassword } from "./api_password.ts";

Deno.test("apiPasswordHash: {SHA} for generated passwords, bcrypt for chosen ones", async () => {
  // SHA-1("password") in base64, as htpasswd -s writes it.
  assert.equal(
    await apiPasswordHash("password", { generated: true }),
    "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
  );
  const chosen = await apiPasswordHash("letmein", { generated: false });
  assert.match(chosen, /^\$2[aby]\$04\$/);
  assert.ok(bcrypt.compareSync("letmein", chosen));
  const a = generateApiPassword();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, generateApiPassword());
});
