/**
 * The building blocks of the API's response schemas (TypeBox). Each domain keeps the schemas
 * of what it answers in its own `schemas.ts`, next to the data they describe; the routes
 * (serialization, the OpenAPI document), the web UI (`web/src/types.ts`) and the tests take
 * their types from them (`Static<typeof X>`).
 *
 * Schema modules import `typebox`, each other and modules without imports only: the web UI
 * reads their types, and a schema module must never bring server code into its bundle
 * (test/http/schemas.test.ts).
 *
 * Fastify writes a response through its schema (fast-json-stringify): a field the schema
 * does not name is left out, a null where it expects an object or a string is written as
 * `{}` or `""`, and fields come in the schema's order. So every schema names every field,
 * in the order the service builds them, and says which ones may be null (`Nullable`).
 */
import { Type, type TObject, type TSchema } from "typebox";

/** A value or null. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A string from a fixed list, written as a plain string (no union to match on every answer). */
export const StringEnum = <const T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>(Type.String({ enum: [...values], ...options }));

/**
 * An object whose optional fields come before required ones, written in its own order:
 * fast-json-stringify writes required fields first, so the schema leaves `required` out
 * (the type keeps it).
 */
export const InOrder = <T extends TObject>(schema: T): T => {
  const { required: _required, ...rest } = schema;
  return rest as unknown as T;
};

/** A time as the API answers it: ISO 8601, UTC, milliseconds (`2026-11-29T09:00:00.000Z`). */
export const Time = () => Type.String({ description: "ISO 8601 time, UTC" });

/** A page of a list: its items and the cursor of the next page (null: the last page). */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), next_cursor: Nullable(Type.String()) });

/** A whole list (short lists answered at once). */
export const Items = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item) });

/** The answer of a 204: no body (`reply.status(204).send()`). */
export const NoContent = Type.Unsafe<undefined>(Type.Null({ description: "No content" }));

/** Any JSON value, written as it is (payloads: contract/schemas; audit before/after). */
export const AnyJson = (options: { description?: string } = {}) => Type.Unknown(options);
