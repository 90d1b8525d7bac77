// The public contract as tests check it: paths, the JSON Schemas of the payloads, and
// Standard Webhooks signatures.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { Webhook } from "standardwebhooks";
import { PACKAGE_ROOT } from "../../src/package-root.js";
import type { ReceivedRequest } from "./receiver.js";

// Found by walking up to package.json: the same from test/ (tsx) and from its compiled copy in .test-build/.
export const repoRoot = PACKAGE_ROOT;
export const contractDir = path.join(repoRoot, "contract");
/** Gateway bodies as the gateways send them, each naming its origin. */
export const FIXTURES = path.join(repoRoot, "test/fixtures/sources");
export const VERSION: string = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;

/** The contract's JSON Schemas (draft 2020-12), compiled once. */
export function contractValidators(): { message: ValidateFunction; bundle: ValidateFunction } {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  for (const name of ["common", "message", "bundle"]) {
    ajv.addSchema(JSON.parse(readFileSync(path.join(contractDir, "schemas", `${name}.schema.json`), "utf8")));
  }
  const get = (id: string) => {
    const v = ajv.getSchema(id);
    assert.ok(v, `schema ${id} not loaded`);
    return v;
  };
  return {
    message: get("https://threadline.dev/schemas/message.schema.json"),
    bundle: get("https://threadline.dev/schemas/bundle.schema.json"),
  };
}

export function assertValid(validate: ValidateFunction, body: unknown, what = "payload"): void {
  const ok = validate(body);
  assert.ok(ok, `${what} does not match the schema: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body)}`);
}

/** Verifies a received request's Standard Webhooks signature with the webhook's secret. */
export function assertSigned(req: ReceivedRequest, secret: string): void {
  const headers: Record<string, string> = {};
  for (const k of ["webhook-id", "webhook-timestamp", "webhook-signature"]) headers[k] = String(req.headers[k] ?? "");
  assert.doesNotThrow(() => new Webhook(secret).verify(req.body, headers), "the signature does not verify");
}

let validators: ReturnType<typeof contractValidators> | undefined;
/** bundle.schema.json (with common.schema.json), draft 2020-12. */
export function validateBundle(body: unknown): void {
  assertValid((validators ??= contractValidators()).bundle, body, "bundle");
}
