import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Type } from "typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import { clearSessionCookie, personOf, SESSION_COOKIE, signInPerson } from "../auth.js";
import { personByPassword, recordFailedSignIn } from "../../workspaces/sessions.js";
import { MAX_PASSWORD } from "../../workspaces/passwords.js";
import { EmailLimits } from "../rate-limits.js";
import { getWorkspace } from "../../workspaces/service.js";
import { findPermalink, getChat, listMessages, type MessageRow } from "../../timeline/service.js";
import { localMinute } from "../../webhooks/payload.js";
import { escapeHtml } from "../../html.js";
import { ApiError } from "../../errors.js";
import { safeNext } from "../safe-next.js";

/**
 * The page around `inner`: the UI's own page with its title and root filled in. Built by
 * slicing, never by `String.replace` with a replacement string: user text holding `$&`,
 * `` $` `` or `$'` would be read as "copy the page's own text here".
 */
function fillShell(base: string, title: string, inner: string): string {
  const fill = (page: string, pattern: RegExp, content: string): string => {
    const m = pattern.exec(page);
    return m ? page.slice(0, m.index) + content + page.slice(m.index + m[0].length) : page;
  };
  return fill(
    fill(base, /<title>[^<]*<\/title>/, `<title>${escapeHtml(title)} · Threadline</title>`),
    /<div id="root"><\/div>/,
    `<div id="root">${inner}</div>`,
  );
}

/**
 * The pages links in payloads open (`chat_url`, permalinks). They are server-rendered so
 * they work without JavaScript, inside the web UI's shell so the browser app takes over.
 */
export function pageRoutes(app: Threadline, webDist: string) {
  // The web UI's built page, read once (npm install builds it); a bare page without it.
  const index = path.join(webDist, "index.html");
  const base = existsSync(index)
    ? readFileSync(index, "utf8")
    : `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Threadline</title></head><body><div id="root"></div></body></html>`;
  const shell = (title: string, inner: string): string => fillShell(base, title, inner);
  const nextOf = (next: unknown) => safeNext(next, app.publicUrl());

  const notFoundPage = (reply: FastifyReply, what: string) =>
    reply
      .status(404)
      .type("text/html; charset=utf-8")
      .send(
        shell("Not found", `<main class="ssr"><h1>${what} not found</h1><p><a href="/">Open Threadline</a></p></main>`),
      );

  const perEmail = new EmailLimits(app.config.rateLimits.signInEmail);
  const signIn = (reply: FastifyReply, next: string, error?: string) =>
    reply
      .status(error ? 401 : 200)
      .type("text/html; charset=utf-8")
      .send(
        shell(
          "Sign in",
          `<main class="ssr signin"><h1>Sign in to Threadline</h1><p>Sign in with your e-mail and password to open this conversation. <a href="/signin">Forgot it, or no password yet?</a></p>` +
            (error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : "") +
            `<form method="post" action="/signin"><input type="hidden" name="next" value="${escapeHtml(next)}">` +
            `<label for="email">E-mail</label> <input id="email" name="email" type="email" autocomplete="username" required> ` +
            `<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required> ` +
            `<button type="submit">Sign in</button></form></main>`,
        ),
      );

  /** The workspace of the signed-in person; a cookie that is not valid counts as a failed authentication and is dropped. */
  const sessionOf = async (req: FastifyRequest, reply: FastifyReply) => {
    const person = await personOf(app, req);
    if (!person && req.cookies?.[SESSION_COOKIE] !== undefined) {
      req.server.authFailures.failed(req);
      clearSessionCookie(app, req, reply);
    }
    return person?.workspaceId;
  };

  const conversation = async (req: FastifyRequest, reply: FastifyReply, chatId: string, highlight?: string) => {
    const ws = await sessionOf(req, reply);
    if (!ws) return signIn(reply, req.url);
    let chat;
    try {
      chat = await getChat(app.db, ws, chatId);
    } catch (e) {
      if (e instanceof ApiError && e.code === "NOT_FOUND") return notFoundPage(reply, "Conversation");
      throw e;
    }
    const { timezone } = await getWorkspace(app.db, ws);
    const rows: MessageRow[] = [];
    let cursor: string | undefined;
    do {
      const page = await listMessages(app.db, ws, chatId, { limit: 200, cursor });
      rows.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor && rows.length < 2000);
    const items = rows
      .map((m) => {
        const hl = m.id === highlight;
        const body =
          m.status === "skipped"
            ? `<em>Attachment (${escapeHtml(m.type)}), not forwarded</em>`
            : escapeHtml(m.text).replace(/\r\n|\r|\n/g, "<br/>");
        return (
          `<li id="m-${escapeHtml(m.id)}" class="msg ${m.direction}${hl ? " highlighted" : ""}" data-message-id="${escapeHtml(m.id)}"${hl ? ' data-highlighted="true" aria-current="true"' : ""}>` +
          `<div class="meta"><strong>${escapeHtml(m.sender_name)}</strong> · <time datetime="${new Date(m.timestamp).toISOString()}">${localMinute(m.timestamp, timezone)}</time> · ${m.direction}</div>` +
          `<div class="text">${body}</div></li>`
        );
      })
      .join("");
    const title = `${chat.full_name}${chat.is_group ? " (group)" : chat.phone ? ` ${chat.phone}` : ""}`;
    return reply
      .type("text/html; charset=utf-8")
      .send(
        shell(
          chat.full_name,
          `<main class="ssr conversation" data-chat-id="${chat.id}"><h1>${escapeHtml(title)}</h1><p class="zone" data-testid="time-zone">Times in ${escapeHtml(timezone)}</p><ol class="messages">${items || "<li>No messages yet.</li>"}</ol></main>`,
        ),
      );
  };

  return async (f: App) => {
    // The sign-in form is the one form that posts here: form bodies are parsed in this scope only.
    f.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 16 * 1024 },
      (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );
    f.get(
      "/chat/:id/messages/",
      { schema: { hide: true, params: Type.Object({ id: Type.String() }) } },
      async (req, reply) => conversation(req, reply, req.params.id),
    );
    f.get(
      "/chat/:id/messages",
      { schema: { hide: true, params: Type.Object({ id: Type.String() }) } },
      async (req, reply) => reply.redirect(`/chat/${encodeURIComponent(req.params.id)}/messages/`),
    );
    f.get(
      "/permalink/:uuid/",
      { schema: { hide: true, params: Type.Object({ uuid: Type.String() }) } },
      async (req, reply) => {
        const ws = await sessionOf(req, reply);
        if (!ws) return signIn(reply, req.url);
        try {
          const p = await findPermalink(app.db, ws, req.params.uuid);
          return conversation(req, reply, p.chat_id, p.message_id);
        } catch (e) {
          if (e instanceof ApiError && e.code === "NOT_FOUND") return notFoundPage(reply, "Message");
          throw e;
        }
      },
    );
    f.get(
      "/permalink/:uuid",
      { schema: { hide: true, params: Type.Object({ uuid: Type.String() }) } },
      async (req, reply) => reply.redirect(`/permalink/${encodeURIComponent(req.params.uuid)}/`),
    );
    f.get(
      "/signin",
      { schema: { hide: true, querystring: Type.Object({ next: Type.Optional(Type.String()) }) } },
      async (req, reply) => signIn(reply, nextOf(req.query.next)),
    );
    f.post("/signin", { schema: { hide: true } }, async (req, reply) => {
      const body = (req.body ?? {}) as { email?: unknown; password?: unknown; next?: string };
      const next = nextOf(body.next);
      const email = typeof body.email === "string" ? body.email.slice(0, 320) : "";
      const password = typeof body.password === "string" ? body.password : "";
      if (email) perEmail.hit(email, reply);
      const p =
        email && password && password.length <= MAX_PASSWORD
          ? await personByPassword(app.db, email, password)
          : undefined;
      if (!p) {
        req.server.authFailures.failed(req);
        if (email) await recordFailedSignIn(app.db, app.clock, email, req.ip);
        return signIn(reply, next, "That e-mail and password do not match a person of a workspace.");
      }
      await signInPerson(app, req, reply, p, "password");
      return reply.redirect(next, 303);
    });
  };
}
