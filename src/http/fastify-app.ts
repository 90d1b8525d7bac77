import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";

/** The Fastify instance the routes register on (TypeBox schemas typing each handler's request). */
export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;
