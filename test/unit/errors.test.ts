// The error catalogue as a table: every code the server can answer is documented in
// docs/api.md with its status, and the documented table has nothing the code lacks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { ApiError, ERROR_STATUS, type ErrorCode } from "../../src/errors.js";
import { repoRoot } from "../helpers/contract.js";

it("docs/api.md lists every error code with its status, and no other", () => {
  const api = readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");
  const documented = new Map([...api.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual(documented, new Map(Object.entries(ERROR_STATUS)));
});

it("an ApiError carries its code's status and the field it names", () => {
  for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
    const e = new ApiError(code, "A sentence a person understands.", "messages[0].text");
    assert.equal(e.status, ERROR_STATUS[code]);
    assert.equal(e.field, "messages[0].text");
  }
});
