// oidc-provider ships no types; the SSO test uses its constructor and `callback()` only.
declare module "oidc-provider";
