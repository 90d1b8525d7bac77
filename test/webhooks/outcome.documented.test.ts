// Every delivery error code and every disabled_reason the server can emit is documented in
// docs/api.md, from the one list each is defined in.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { DELIVERY_ERROR_CODES } from "../../src/webhooks/outcome.js";
import { DISABLED_REASONS } from "../../src/webhooks/policy.js";
import { AGGREGATIONS } from "../../src/webhooks/windows.js";
import { repoRoot } from "../helpers/contract.js";

const api = readFileSync(path.join(repoRoot, "docs/api.md"), "utf8");

it("docs/api.md lists every delivery error code, disabled_reason and aggregation", () => {
  for (const code of DELIVERY_ERROR_CODES)
    assert.ok(api.includes(`\`${code}\``), `error code ${code} is not in docs/api.md`);
  for (const reason of DISABLED_REASONS)
    assert.ok(api.includes(`\`"${reason}"\``), `disabled_reason "${reason}" is not in docs/api.md`);
  for (const a of AGGREGATIONS) assert.ok(api.includes(`\`"${a}"\``), `aggregation "${a}" is not in docs/api.md`);
});
