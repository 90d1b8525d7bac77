/**
 * What the workspace, people, session and API-key routes answer (src/schemas.ts says how
 * schemas are kept). `ROLES` is the one list of roles (roles.ts reads it from here).
 */
import { Type, type Static } from "typebox";
import { Nullable, Page, Items, StringEnum, Time } from "../schemas.js";
import { Actor } from "../audit/schemas.js";

/** What a person may do (docs/api.md, "Roles"): each role can do everything of the ones after it. */
export const ROLES = ["owner", "admin", "member"] as const;
export const Role = StringEnum(ROLES);
export type Role = Static<typeof Role>;

export const Teammate = Type.Object({ id: Type.String(), full_name: Type.String(), email: Type.String(), role: Role });
export type Teammate = Static<typeof Teammate>;
export const TeammatePage = Page(Teammate);

const workspaceFields = { id: Type.String(), name: Type.String(), timezone: Type.String(), owner: Teammate };
export const Workspace = Type.Object(workspaceFields);
export type Workspace = Static<typeof Workspace>;
export const WorkspacePage = Page(Workspace);

/** The operator's creation: the workspace, its first API key (shown once) and the owner's invitation URL. */
export const WorkspaceCreated = Type.Object({
  ...workspaceFields,
  api_key: Type.String(),
  owner_invitation_url: Type.String(),
});
export type WorkspaceCreated = Static<typeof WorkspaceCreated>;

/** `GET`/`PATCH /api/v1/workspace`: the workspace and its retention (retention/index.ts). */
export const WorkspaceSettings = Type.Object({
  ...workspaceFields,
  retention_days: Nullable(Type.Integer()),
  /** Messages past the retention time kept because an enabled webhook has not delivered them yet (counted to 10,000). */
  retention_waiting: Type.Integer(),
});
export type WorkspaceSettings = Static<typeof WorkspaceSettings>;

export const ApiKeyRotated = Type.Object({ api_key: Type.String() });

/** Who is signed in (`GET /api/v1/me`, and the answer of every sign-in). */
export const Me = Type.Object({
  id: Type.String(),
  email: Type.String(),
  full_name: Type.String(),
  role: Role,
  workspace: Type.Object({ id: Type.String(), name: Type.String() }),
});
export type Me = Static<typeof Me>;

/** `GET /api/v1/session`: the workspace, who is signed in (null for a key) and who acts. */
export const SessionState = Type.Object({ workspace: Workspace, me: Nullable(Me), actor: Actor });
export type SessionState = Static<typeof SessionState>;

export const Session = Type.Object({
  id: Type.String(),
  created_at: Time(),
  expires_at: Time(),
  user_agent: Nullable(Type.String()),
  address: Nullable(Type.String()),
  method: Nullable(Type.String()),
  current: Type.Boolean(),
});
export const SessionList = Items(Session);

/** The answer to a link or reset request: the same whether or not the e-mail is a person's. */
export const LinkSent = Type.Object({ message: Type.String() });

export const SsoState = Type.Object({ enabled: Type.Boolean() });

const invitationFields = { id: Type.String(), email: Type.String(), full_name: Type.String(), role: Role };
/** A new invitation: its URL (the token is its last segment) is in this answer and the e-mail only. */
export const InvitationCreated = Type.Object({ ...invitationFields, url: Type.String(), expires_at: Time() });
export type InvitationCreated = Static<typeof InvitationCreated>;
export const Invitation = Type.Object({
  ...invitationFields,
  created_by: Actor,
  created_at: Time(),
  expires_at: Time(),
});
export const InvitationPage = Page(Invitation);

export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_by: Actor,
  created_at: Time(),
  last_used_at: Nullable(Time()),
});
export type ApiKey = Static<typeof ApiKey>;
export const ApiKeyList = Items(ApiKey);
/** A new key: the key is in this answer only. */
export const ApiKeyCreated = Type.Object({
  id: Type.String(),
  name: Type.String(),
  key: Type.String(),
  created_by: Actor,
  created_at: Time(),
});
