import { Type } from "typebox";
import * as client from "openid-client";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../fastify-app.js";
import type { Threadline } from "../../app.js";
import type { OidcConfig } from "../../config/index.js";
import { signInPerson } from "../auth.js";
import { safeNext } from "../safe-next.js";
import { personForSso, type SsoClaims } from "../../workspaces/sso.js";
import { SsoState } from "../../workspaces/schemas.js";

/** The cookie that carries one sign-on's state, nonce and PKCE verifier from /sso/start to /sso/callback. */
const SSO_COOKIE = "tl_sso";
const SSO_TTL_S = 600;

/** Plain http to the provider only on loopback (a test's provider, a local one); anything else must be https. */
function loopback(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
}

/**
 * Single sign-on (OpenID Connect, authorization code with PKCE, through `openid-client`), when
 * THREADLINE_OIDC_ISSUER is set. The provider is discovered on first use (and again after a
 * failure), so a provider down at start-up does not stop Threadline.
 */
export function ssoRoutes(app: Threadline) {
  const oidc = app.config.oidc;
  let discovered: Promise<client.Configuration> | undefined;
  const configuration = (o: OidcConfig) => {
    const issuer = new URL(o.issuer);
    discovered ??= client
      // client_secret_basic: the token endpoint's default authentication in OpenID Connect.
      .discovery(
        issuer,
        o.clientId,
        { client_secret: o.clientSecret },
        client.ClientSecretBasic(o.clientSecret),
        issuer.protocol === "http:" && loopback(issuer) ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((e: unknown) => {
        discovered = undefined;
        throw e;
      });
    return discovered;
  };
  const redirectUri = () => `${app.publicUrl().replace(/\/+$/, "")}/sso/callback`;
  const refuse = (reply: FastifyReply, why: string) =>
    reply.redirect(`/signin?sso_error=${encodeURIComponent(why)}`, 303);

  return async (f: App) => {
    f.get(
      "/api/v1/sso",
      { config: { auth: "public" }, schema: { tags: ["session"], response: { 200: SsoState }, security: [] } },
      async () => ({ enabled: oidc !== undefined }),
    );
    if (!oidc) return;

    f.get(
      "/sso/start",
      { schema: { hide: true, querystring: Type.Object({ next: Type.Optional(Type.String({ maxLength: 2048 })) }) } },
      async (req, reply) => {
        let config: client.Configuration;
        try {
          config = await configuration(oidc);
        } catch (e) {
          app.log.error({ err: e }, "single sign-on: the OpenID provider could not be discovered");
          return refuse(reply, "Single sign-on is not available right now: the identity provider did not answer.");
        }
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        const next = safeNext(req.query.next, app.publicUrl());
        void reply.setCookie(
          SSO_COOKIE,
          Buffer.from(JSON.stringify({ verifier, state, nonce, next })).toString("base64url"),
          {
            httpOnly: true,
            sameSite: "lax",
            path: "/sso/",
            maxAge: SSO_TTL_S,
            secure: app.publicUrl().startsWith("https:") || req.protocol === "https",
          },
        );
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri(),
          scope: "openid email profile",
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: "S256",
          state,
          nonce,
        });
        return reply.redirect(url.href, 303);
      },
    );

    f.get("/sso/callback", { schema: { hide: true } }, async (req: FastifyRequest, reply) => {
      const raw = req.cookies[SSO_COOKIE];
      void reply.clearCookie(SSO_COOKIE, { path: "/sso/" });
      let saved: { verifier: string; state: string; nonce: string; next: string };
      try {
        saved = JSON.parse(Buffer.from(raw ?? "", "base64url").toString()) as typeof saved;
        if (typeof saved.verifier !== "string" || typeof saved.state !== "string")
          throw new Error("no sign-on under way");
      } catch {
        return refuse(reply, "That sign-on expired or was not started here; try again.");
      }
      let claims: client.IDToken | undefined;
      try {
        const config = await configuration(oidc);
        const current = new URL(req.url, redirectUri());
        const tokens = await client.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: saved.verifier,
          expectedState: saved.state,
          expectedNonce: saved.nonce,
          idTokenExpected: true,
        });
        claims = tokens.claims();
        // Providers commonly give the e-mail in userinfo rather than the ID token: asked for the ID token's subject.
        if (claims && typeof claims.email !== "string")
          claims = {
            ...claims,
            ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)),
          } as client.IDToken;
      } catch (e) {
        req.server.authFailures.failed(req);
        app.log.warn({ err: (e as Error).message }, "single sign-on refused");
        return refuse(reply, "The identity provider's answer could not be verified; try again.");
      }
      const r = await personForSso(app.db, app.clock, oidc, (claims ?? {}) as SsoClaims, req.ip);
      if ("refused" in r) {
        req.server.authFailures.failed(req);
        return refuse(reply, r.refused);
      }
      await signInPerson(app, req, reply, r.person, "sso");
      return reply.redirect(saved.next === "/" ? "/webhooks" : saved.next, 303);
    });
  };
}
