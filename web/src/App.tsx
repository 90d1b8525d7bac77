import { useCallback, useEffect, useState } from "react";
import { api, ApiError, errorMessage, onUnauthorized } from "./api.js";
import { match, navigate, safeNext, useLocation, type Route } from "./router.js";
import type { Me, Workspace } from "./types.js";
import { Alert, Link, Loading, MeContext, useCan, WorkspaceContext } from "./ui.js";
import { BrandMark, SignIn } from "./SignIn.js";
import { LinkPage } from "./Links.js";
import { ApiKeysPage } from "./ApiKeys.js";
import { AuditPage } from "./Audit.js";
import { WebhooksPage } from "./Webhooks.js";
import { WebhooksMarker } from "./FailureBanner.js";
import { TimelinePage } from "./Timeline.js";
import { ConversationPage, PermalinkPage } from "./Conversation.js";
import { AccountsPage } from "./Accounts.js";
import { TeammatesPage } from "./Teammates.js";
import { WorkspacePage } from "./WorkspaceSettings.js";

type Session =
  | { state: "loading" }
  | { state: "signed-out"; reason?: string }
  | { state: "signed-in"; workspace: Workspace; me: Me }
  | { state: "error"; message: string };

export function App() {
  const [session, setSession] = useState<Session>({ state: "loading" });
  const { path, search } = useLocation();
  const route = match(path);

  const check = useCallback(async () => {
    // No session was opened in this browser (tl_signed_in, set with the session): nothing to ask.
    if (!document.cookie.split("; ").some((c) => c.startsWith("tl_signed_in="))) {
      setSession({ state: "signed-out" });
      return;
    }
    try {
      const r = await api<{ workspace: Workspace; me: Me | null }>("GET", "/api/v1/session", undefined, {
        allow401: true,
      });
      if (r.me) setSession({ state: "signed-in", workspace: r.workspace, me: r.me });
      else setSession({ state: "signed-out" });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setSession({ state: "signed-out" });
      else setSession({ state: "error", message: errorMessage(e) });
    }
  }, []);

  useEffect(() => {
    void check();
    onUnauthorized(() => setSession({ state: "signed-out", reason: "Your session has ended. Please sign in again." }));
    return () => onUnauthorized(null);
  }, [check]);

  // The e-mailed links (invitation, reset, sign-in link) work signed in or not: they sign in as their person.
  if (route.page === "link") {
    return (
      <LinkPage
        key={route.token}
        kind={route.kind}
        token={route.token}
        onSignedIn={() => {
          navigate("/webhooks", { replace: true });
          void check();
        }}
      />
    );
  }
  if (session.state === "loading") {
    return (
      <div className="splash">
        <Loading label="Loading Threadline…" />
      </div>
    );
  }
  if (session.state === "error") {
    return (
      <div className="splash">
        <div className="card narrow">
          <h1>Threadline is unavailable</h1>
          <Alert>{session.message}</Alert>
          <button type="button" className="btn btn-primary" onClick={() => void check()}>
            Try again
          </button>
        </div>
      </div>
    );
  }
  if (session.state === "signed-out") {
    return (
      <SignIn
        notice={session.reason ?? search.get("sso_error") ?? undefined}
        onSignedIn={() => {
          // Stay on the page that was asked for; /signin?next=… returns there.
          if (route.page === "signin") navigate(safeNext(search.get("next")) ?? "/webhooks", { replace: true });
          void check();
        }}
      />
    );
  }

  const signOut = async () => {
    try {
      await api("DELETE", "/api/v1/session", undefined, { allow401: true });
    } catch {
      // Signed out locally either way.
    }
    setSession({ state: "signed-out" });
    navigate("/", { replace: true });
  };

  return (
    <WorkspaceContext.Provider value={session.workspace}>
      <MeContext.Provider value={session.me}>
        <Shell route={route} workspace={session.workspace} me={session.me} onSignOut={signOut}>
          <Page route={route} next={search.get("next")} />
        </Shell>
      </MeContext.Provider>
    </WorkspaceContext.Provider>
  );
}

function Page({ route, next }: { route: Route; next: string | null }) {
  switch (route.page) {
    case "webhooks":
      return <WebhooksPage tab={route.tab} />;
    case "timeline":
      return <TimelinePage />;
    case "chat":
      return <ConversationPage key={route.chatId} chatId={route.chatId} />;
    case "permalink":
      return <PermalinkPage key={route.uuid} uuid={route.uuid} />;
    case "accounts":
      return <AccountsPage />;
    case "teammates":
      return <TeammatesPage />;
    case "apikeys":
      return <ApiKeysPage />;
    case "workspace":
      return <WorkspacePage />;
    case "audit":
      return <AuditPage />;
    case "link":
      return null;
    case "signin":
      return <Redirect to={safeNext(next) ?? "/webhooks"} />;
    case "notfound":
      return (
        <div className="page">
          <h1>Page not found</h1>
          <p>
            There is nothing at this address. <Link to="/webhooks">Go to Webhooks</Link>.
          </p>
        </div>
      );
  }
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

const NAV: { to: string; label: string; pages: Route["page"][]; admin?: boolean }[] = [
  { to: "/webhooks", label: "Webhooks", pages: ["webhooks"] },
  { to: "/timeline", label: "Timeline", pages: ["timeline", "chat", "permalink"] },
  { to: "/accounts", label: "Accounts", pages: ["accounts"] },
  { to: "/teammates", label: "Teammates", pages: ["teammates"] },
  { to: "/api-keys", label: "API keys", pages: ["apikeys"], admin: true },
  { to: "/audit", label: "Audit log", pages: ["audit"], admin: true },
];

function Shell({
  route,
  workspace,
  me,
  onSignOut,
  children,
}: {
  route: Route;
  workspace: Workspace;
  me: Me;
  onSignOut: () => void;
  children: React.ReactNode;
}) {
  const admin = useCan("admin");
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/webhooks" className="brand">
            <BrandMark size={24} />
            Threadline
          </Link>
          <nav aria-label="Main" className="mainnav">
            <ul>
              {NAV.filter((n) => admin || !n.admin).map((n) => (
                <li key={n.to}>
                  <Link to={n.to} current={n.pages.includes(route.page)}>
                    {n.label}
                  </Link>
                  {n.to === "/webhooks" ? <WebhooksMarker /> : null}
                </li>
              ))}
            </ul>
          </nav>
          <div className="topbar-right">
            <Link
              to="/workspace"
              className="workspace-name"
              current={route.page === "workspace"}
              title={`Workspace ${workspace.name} (${workspace.timezone}): settings`}
              data-testid="workspace-name"
            >
              {workspace.name}
            </Link>
            <span className="person-name" data-testid="signed-in-as" title={`${me.email} (${me.role})`}>
              {me.full_name} · {me.role}
            </span>
            <button type="button" className="btn btn-ghost btn-small" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
