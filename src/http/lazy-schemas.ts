// Fastify compiles every route's request validators (ajv) and response serializers
// (fast-json-stringify) when the server starts: about 165 ms of the 600 ms a start costs, for
// some 90 routes of which a process may never serve most (BENCHMARKS.md, "Server start"). These
// factories wrap Fastify's own compilers so that a route's schema is compiled on its first
// request instead; what it compiles to, and its options, are Fastify's defaults.
// test/contract/api-reference.test.ts compiles every published schema, so a bad one still fails a test.
import { AjvCompiler, type BuildCompilerFromPool } from "@fastify/ajv-compiler";
import { SerializerSelector, type SerializerFactory } from "@fastify/fast-json-stringify-compiler";

/** The ajv options of the routes' validators: no type coercion, nothing removed, the first error only. */
export const AJV_OPTIONS = { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } };

/** Fastify's ajv compiler, compiling each route's validator on its first use. */
export function lazyValidators(): BuildCompilerFromPool {
  const build = AjvCompiler();
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      type Validate = ReturnType<typeof compile>;
      let validate: Validate | undefined;
      // Fastify reads `errors` off the function it was given after a failed validation.
      const lazy = Object.assign(
        (data: unknown) => {
          validate ??= compile(route);
          const valid = validate(data);
          lazy.errors = validate.errors;
          return valid;
        },
        { errors: undefined as Validate["errors"] },
      );
      return lazy as unknown as ReturnType<typeof compile>;
    };
  };
}

/** Fastify's fast-json-stringify compiler, compiling each response serializer on its first use. */
export function lazySerializers(): SerializerFactory {
  const build = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      let serialize: ReturnType<typeof compile> | undefined;
      return (data) => (serialize ??= compile(route))(data);
    };
  };
}
