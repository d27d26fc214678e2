import assert from "node:assert/strict";
import { bytesFromBase64, fromBase64, toBase64 } from "./base64.ts";

// The UTF-8 bytes of `text`, in base64, the long way.
function utf8Base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

Deno.test("base64: text is encoded as its UTF-8 bytes, ASCII or not, and decoded back", () => {
  for (const text of ["", "jupyterhub/routes/a", "\x00\x7f", "\u00ff", "café/π", "€", "😀"]) {
    assert.equal(toBase64(text), utf8Base64(text), text);
    assert.equal(fromBase64(toBase64(text)), text, text);
  }
  assert.deepEqual([...bytesFromBase64(toBase64("\u00ff"))], [0xc3, 0xbf]);
  assert.equal(fromBase64(undefined), "");
});
