import { Type } from "typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { ApiError } from "../../errors.js";
import { clearSessionCookie, SESSION_COOKIE, signInPerson, whoOf } from "../auth.js";
import { EmailLimits } from "../rate-limits.js";
import { IdParams, IdString, ListQuery, NameString, pageOf, parseLimit } from "./common.js";
import {
  createTeammate,
  getWorkspace,
  listTeammates,
  removeTeammate,
  setTeammateRole,
} from "../../workspaces/service.js";
import {
  createLinks,
  endSession,
  endSessionByToken,
  listSessions,
  personByPassword,
  personForSession,
  recordFailedSignIn,
  setPassword,
  useLink,
} from "../../workspaces/sessions.js";
import { acceptInvitation, createInvitation, deleteInvitation, listInvitations } from "../../workspaces/invitations.js";
import { createApiKey, deleteApiKey, listApiKeys } from "../../workspaces/api-keys.js";
import { ROLES, type Role } from "../../workspaces/roles.js";
import { checkPassword, MAX_PASSWORD } from "../../workspaces/passwords.js";
import { listAudit } from "../../audit/index.js";
import { checkQuota } from "../../workspaces/quotas.js";
import { NoContent } from "../../schemas.js";
import { AuditPage } from "../../audit/schemas.js";
import {
  ApiKeyCreated,
  ApiKeyList,
  InvitationCreated,
  InvitationPage,
  LinkSent,
  Me,
  SessionList,
  SessionState,
  Teammate,
  TeammatePage,
} from "../../workspaces/schemas.js";

const RoleField = Type.Union(ROLES.map((r) => Type.Literal(r)));
const Email = NameString({ minLength: 1 });
/** Long enough for any password we accept, bounded before it is hashed. */
const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD + 1 });
const Token = IdString({ minLength: 1 });

/** The answer to a link or reset request: the same whether or not the e-mail is a person's. */
const LINK_SENT =
  "If that e-mail belongs to a person of a workspace, a link was sent to it; it works once, within an hour.";

/** People, their sessions and roles; invitations; API keys; the audit log. */
export function peopleRoutes(app: Threadline) {
  const perEmail = new EmailLimits(app.config.rateLimits.signInEmail);
  const me = async (req: FastifyRequest) => {
    const token = req.cookies[SESSION_COOKIE];
    const person = req.person ?? (token ? await personForSession(app.db, app.clock, token) : undefined);
    if (!person) throw new ApiError("UNAUTHORIZED", "Sign in first.");
    return {
      id: person.teammate.id,
      email: person.teammate.email,
      full_name: person.teammate.full_name,
      role: person.teammate.role,
      workspace: { id: person.workspaceId, name: person.workspaceName },
    };
  };
  /** Signs the browser in as `person` and answers who is signed in. */
  const signedIn = async (
    req: FastifyRequest,
    reply: FastifyReply,
    person: { id: string; workspace_id: string; full_name: string },
    method: Parameters<typeof signInPerson>[4],
  ) => {
    await signInPerson(app, req, reply, person, method);
    const ws = await getWorkspace(app.db, person.workspace_id);
    const t = (await listTeammates(app.db, person.workspace_id)).find((x) => x.id === person.id)!;
    return { id: t.id, email: t.email, full_name: t.full_name, role: t.role, workspace: { id: ws.id, name: ws.name } };
  };
  const mailLinks = async (kind: "signin" | "reset", email: string) => {
    for (const l of await createLinks(app.db, app.clock, kind, email)) {
      const ws = await getWorkspace(app.db, l.workspaceId);
      const base = app.publicUrl().replace(/\/+$/, "");
      if (kind === "signin")
        app.alerts.mailTo(
          l.to,
          `Sign in to ${ws.name} on Threadline`,
          `Open this link to sign in to ${ws.name} on Threadline (it works once, within an hour):\n\n${base}/sign-in-link/${l.token}\n\nIf you did not ask for it, ignore this e-mail.`,
        );
      else
        app.alerts.mailTo(
          l.to,
          `Reset your Threadline password (${ws.name})`,
          `Open this link to choose a new password for ${ws.name} on Threadline (it works once, within an hour):\n\n${base}/reset-password/${l.token}\n\nIf you did not ask for it, ignore this e-mail; your password stays as it is.`,
        );
    }
  };
  const person = <S extends object>(schema: S) => ({
    config: { auth: "person" as const },
    schema: { tags: ["session"], ...schema },
  });
  const admin = <S extends object>(schema: S, tag: string, role: Role = "admin") => ({
    config: { auth: "workspace" as const, role },
    schema: { tags: [tag], ...schema },
  });

  return async (f: App) => {
    // Signing in: e-mail and password. The same 401 for an unknown e-mail and a wrong password.
    f.post(
      "/api/v1/session",
      {
        config: { auth: "public" },
        schema: {
          tags: ["session"],
          body: Type.Object({ email: Email, password: Password, workspace_id: Type.Optional(IdString()) }),
          response: { 200: Me },
          security: [],
        },
      },
      async (req, reply) => {
        perEmail.hit(req.body.email, reply);
        const p = await personByPassword(app.db, req.body.email, req.body.password, req.body.workspace_id);
        if (!p) {
          req.server.authFailures.failed(req);
          await recordFailedSignIn(app.db, app.clock, req.body.email, req.ip);
          throw new ApiError(
            "UNAUTHORIZED",
            "That e-mail and password do not match a person of a workspace.",
            "password",
          );
        }
        return signedIn(req, reply, p, "password");
      },
    );
    // What the UI asks at start: the workspace and who is signed in (a key: the workspace only).
    f.get(
      "/api/v1/session",
      { config: { auth: "workspace", role: "member" }, schema: { tags: ["session"], response: { 200: SessionState } } },
      async (req) => ({
        workspace: await getWorkspace(app.db, req.workspaceId),
        me: req.person ? await me(req) : null,
        actor: req.actor,
      }),
    );
    f.delete(
      "/api/v1/session",
      { config: { auth: "public" }, schema: { tags: ["session"], response: { 204: NoContent }, security: [] } },
      async (req, reply) => {
        const token = req.cookies[SESSION_COOKIE];
        if (token) await endSessionByToken(app.db, token);
        clearSessionCookie(app, req, reply);
        return reply.status(204).send();
      },
    );
    f.get("/api/v1/me", person({ response: { 200: Me } }), async (req) => me(req));
    f.get("/api/v1/me/sessions", person({ response: { 200: SessionList } }), async (req) => ({
      items: await listSessions(app.db, req.person!.teammate.id, req.person!.sessionId),
    }));
    f.delete(
      "/api/v1/me/sessions/:id",
      person({ params: IdParams, response: { 204: NoContent } }),
      async (req, reply) => {
        await endSession(app.db, app.clock, req.person!, req.params.id, whoOf(req));
        if (req.params.id === req.person!.sessionId) clearSessionCookie(app, req, reply);
        return reply.status(204).send();
      },
    );

    // One-time sign-in links and password resets by e-mail: the same 202 whether or not the e-mail exists.
    f.post(
      "/api/v1/sign-in-links",
      {
        config: { auth: "public" },
        schema: { tags: ["session"], body: Type.Object({ email: Email }), response: { 202: LinkSent }, security: [] },
      },
      async (req, reply) => {
        perEmail.hit(req.body.email, reply);
        await mailLinks("signin", req.body.email);
        return reply.status(202).send({ message: LINK_SENT });
      },
    );
    f.post(
      "/api/v1/sign-in-links/accept",
      {
        config: { auth: "public" },
        schema: { tags: ["session"], body: Type.Object({ token: Token }), response: { 200: Me }, security: [] },
      },
      async (req, reply) => {
        const p = await useLink(app.db, app.clock, "signin", req.body.token).catch((e: unknown) => {
          req.server.authFailures.failed(req);
          throw e;
        });
        return signedIn(req, reply, p, "link");
      },
    );
    f.post(
      "/api/v1/password-resets",
      {
        config: { auth: "public" },
        schema: { tags: ["session"], body: Type.Object({ email: Email }), response: { 202: LinkSent }, security: [] },
      },
      async (req, reply) => {
        perEmail.hit(req.body.email, reply);
        await mailLinks("reset", req.body.email);
        return reply.status(202).send({ message: LINK_SENT });
      },
    );
    f.post(
      "/api/v1/password-resets/accept",
      {
        config: { auth: "public" },
        schema: {
          tags: ["session"],
          body: Type.Object({ token: Token, password: Password }),
          response: { 200: Me },
          security: [],
        },
      },
      async (req, reply) => {
        checkPassword(req.body.password); // before the link is used up
        const p = await useLink(app.db, app.clock, "reset", req.body.token).catch((e: unknown) => {
          req.server.authFailures.failed(req);
          throw e;
        });
        await setPassword(app.db, app.clock, p, req.body.password, {
          actor: { type: "person", id: p.id, name: p.full_name },
          address: req.ip,
        });
        return signedIn(req, reply, p, "reset");
      },
    );

    // People of the workspace.
    f.get(
      "/api/v1/teammates",
      admin({ querystring: ListQuery, response: { 200: TeammatePage } }, "teammates", "member"),
      async (req) => pageOf(await listTeammates(app.db, req.workspaceId), req.query),
    );
    f.post(
      "/api/v1/teammates",
      admin(
        {
          body: Type.Object({ full_name: NameString({ minLength: 1 }), email: Email, role: Type.Optional(RoleField) }),
          response: { 201: Teammate },
        },
        "teammates",
      ),
      async (req, reply) => {
        await checkQuota(app.db, "teammates", req.workspaceId, app.config.quotas);
        return reply.status(201).send(await createTeammate(app.db, app.clock, req.workspaceId, whoOf(req), req.body));
      },
    );
    f.patch(
      "/api/v1/teammates/:id",
      admin({ params: IdParams, body: Type.Object({ role: RoleField }), response: { 200: Teammate } }, "teammates"),
      async (req) => setTeammateRole(app.db, app.clock, req.workspaceId, whoOf(req), req.params.id, req.body.role),
    );
    f.delete(
      "/api/v1/teammates/:id",
      admin({ params: IdParams, response: { 204: NoContent } }, "teammates"),
      async (req, reply) => {
        await removeTeammate(app.db, app.clock, req.workspaceId, whoOf(req), req.params.id);
        return reply.status(204).send();
      },
    );

    // Invitations: the URL (its last segment is the token) is in the answer and the e-mail only.
    f.post(
      "/api/v1/invitations",
      admin(
        {
          body: Type.Object({ email: Email, full_name: NameString({ minLength: 1 }), role: RoleField }),
          response: { 201: InvitationCreated },
        },
        "invitations",
      ),
      async (req, reply) => {
        // Accepting makes a teammate: a full workspace is told now, not the invited person later.
        await checkQuota(app.db, "teammates", req.workspaceId, app.config.quotas);
        const inv = await createInvitation(app.db, app.clock, req.workspaceId, whoOf(req), req.body, app.publicUrl());
        const ws = await getWorkspace(app.db, req.workspaceId);
        app.alerts.mailTo(
          inv.email,
          `${req.actor.name} invites you to ${ws.name} on Threadline`,
          `${req.actor.name} invites you to join ${ws.name} on Threadline as ${inv.role}.\n\nOpen this link to choose your password (it works once, within 7 days):\n\n${inv.url}\n`,
        );
        return reply.status(201).send(inv);
      },
    );
    f.get(
      "/api/v1/invitations",
      admin({ querystring: ListQuery, response: { 200: InvitationPage } }, "invitations"),
      async (req) => pageOf(await listInvitations(app.db, app.clock, req.workspaceId), req.query),
    );
    f.delete(
      "/api/v1/invitations/:id",
      admin({ params: IdParams, response: { 204: NoContent } }, "invitations"),
      async (req, reply) => {
        await deleteInvitation(app.db, app.clock, req.workspaceId, whoOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
    f.post(
      "/api/v1/invitations/accept",
      {
        config: { auth: "public" },
        schema: {
          tags: ["invitations"],
          body: Type.Object({
            token: Token,
            password: Password,
            full_name: Type.Optional(NameString({ minLength: 1 })),
          }),
          response: { 200: Me },
          security: [],
        },
      },
      async (req, reply) => {
        const p = await acceptInvitation(app.db, app.clock, req.body, req.ip).catch((e: unknown) => {
          if (e instanceof ApiError && e.code === "NOT_FOUND") req.server.authFailures.failed(req);
          throw e;
        });
        return signedIn(req, reply, p, "invitation");
      },
    );

    // API keys: for machines; the key is in the creation's answer only.
    f.post(
      "/api/v1/api-keys",
      admin(
        { body: Type.Object({ name: NameString({ minLength: 1 }) }), response: { 201: ApiKeyCreated } },
        "api-keys",
      ),
      async (req, reply) =>
        reply.status(201).send(await createApiKey(app.db, app.clock, req.workspaceId, whoOf(req), req.body)),
    );
    f.get("/api/v1/api-keys", admin({ response: { 200: ApiKeyList } }, "api-keys"), async (req) => ({
      items: await listApiKeys(app.db, req.workspaceId),
    }));
    f.delete(
      "/api/v1/api-keys/:id",
      admin({ params: IdParams, response: { 204: NoContent } }, "api-keys"),
      async (req, reply) => {
        await deleteApiKey(app.db, app.clock, req.workspaceId, whoOf(req), req.params.id);
        return reply.status(204).send();
      },
    );

    f.get(
      "/api/v1/audit",
      admin(
        {
          querystring: Type.Object({
            actor: Type.Optional(IdString()),
            object: Type.Optional(IdString()),
            since: Type.Optional(IdString()),
            until: Type.Optional(IdString()),
            cursor: Type.Optional(IdString()),
            limit: Type.Optional(Type.String({ maxLength: 8 })),
          }),
          response: { 200: AuditPage },
        },
        "audit",
      ),
      async (req) => listAudit(app.db, req.workspaceId, { ...req.query, limit: parseLimit(req.query.limit) }),
    );
  };
}
