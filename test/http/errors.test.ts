// The error catalogue as a table: every code the server can answer is documented in
// docs/api.md with its status, and the documented table has nothing the code lacks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { ApiError, ERROR_STATUS, invalid, notFound, type ErrorCode } from "../../src/errors.js";
import { repoRoot } from "../helpers/contract.js";

it("docs/api.md lists every error code with its status, and no other", () => {
  const api = readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");
  const documented = new Map([...api.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual(documented, new Map(Object.entries(ERROR_STATUS)));
});

// Written out here, not read from the table: a code whose status changes breaks clients.
const HTTP_MEANING: Record<ErrorCode, number> = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CROSS_ORIGIN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  QUOTA_EXCEEDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SOURCE_UNAVAILABLE: 502,
};

it("each code keeps the HTTP status clients switch on", () => {
  for (const code of Object.keys(HTTP_MEANING) as ErrorCode[]) {
    assert.equal(new ApiError(code, "A sentence a person understands.").status, HTTP_MEANING[code], code);
  }
  assert.deepEqual(Object.keys(ERROR_STATUS).sort(), Object.keys(HTTP_MEANING).sort());
});

it("notFound and invalid build the errors routes answer: the code, a sentence, the field named", () => {
  const missing = notFound("Webhook wh_1");
  assert.equal(missing.status, 404);
  assert.equal(missing.message, "Webhook wh_1 was not found.");
  assert.equal(missing.field, undefined);
  const bad = invalid("messages[0].text", "must not contain NUL bytes.");
  assert.equal(bad.status, 400);
  assert.equal(bad.code, "VALIDATION_ERROR");
  assert.equal(bad.field, "messages[0].text");
  assert.match(bad.message, /^messages\[0\]\.text: /);
});
