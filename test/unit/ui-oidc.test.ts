/** The pure parts of the dashboard's OIDC sign-in: the authorization URL, the callback, PKCE, the CSP and discovery parsing. */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { authorizationUrl, callbackOf, codeChallenge } from "../../src/ui/oidc-url.ts";
import { uiCsp } from "../../src/kernel/api/ui.ts";
import { endpointsOf, originOf } from "../../src/kernel/api/ui-oidc.ts";

const provider = {
  name: "Keycloak",
  issuer: "https://sso.example.com/realms/media",
  client_id: "webencode",
  authorization_endpoint: "https://sso.example.com/realms/media/protocol/openid-connect/auth?kc_idp_hint=corp",
  token_endpoint: "https://sso.example.com/realms/media/protocol/openid-connect/token",
  scope: "openid profile",
};

describe("dashboard OIDC sign-in (pure)", () => {
  test("the authorization URL carries code, client, redirect, state and an S256 challenge, keeping the endpoint's own query", () => {
    const url = new URL(authorizationUrl(provider, { redirect_uri: "https://we.example.com/sign-in", state: "s1", challenge: "c1" }));
    expect(url.origin + url.pathname).toBe("https://sso.example.com/realms/media/protocol/openid-connect/auth");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      kc_idp_hint: "corp",
      response_type: "code",
      client_id: "webencode",
      redirect_uri: "https://we.example.com/sign-in",
      scope: "openid profile",
      state: "s1",
      code_challenge: "c1",
      code_challenge_method: "S256",
    });
  });

  test("the S256 challenge is base64url(sha256(verifier)) without padding (RFC 7636 appendix B)", async () => {
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    expect(await codeChallenge(verifier)).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    expect(await codeChallenge("x")).toBe(createHash("sha256").update("x").digest("base64url"));
  });

  test("the callback: code and state, the provider's error, or nothing", () => {
    expect(callbackOf("?code=abc&state=xyz")).toEqual({ code: "abc", state: "xyz" });
    expect(callbackOf("?error=access_denied&error_description=User+cancelled")).toEqual({ error: "access_denied: User cancelled" });
    expect(callbackOf("?code=abc")).toBeNull();
    expect(callbackOf("")).toBeNull();
  });

  test("the CSP admits only the given origins, in connect-src and form-action", () => {
    expect(uiCsp()).toContain("connect-src 'self';");
    expect(uiCsp()).toContain("form-action 'self';");
    const csp = uiCsp(["https://sso.example.com"]);
    expect(csp).toContain("connect-src 'self' https://sso.example.com;");
    expect(csp).toContain("form-action 'self' https://sso.example.com;");
    expect(csp).toContain("script-src 'self';");
    expect(csp.match(/sso\.example\.com/g)).toHaveLength(2);
  });

  test("discovery: both endpoints must be http(s) URLs; origins", () => {
    expect(endpointsOf({ authorization_endpoint: provider.authorization_endpoint, token_endpoint: provider.token_endpoint, issuer: provider.issuer })).toEqual({
      authorization_endpoint: provider.authorization_endpoint,
      token_endpoint: provider.token_endpoint,
    });
    expect(endpointsOf({ authorization_endpoint: "javascript:alert(1)", token_endpoint: provider.token_endpoint })).toBeNull();
    expect(endpointsOf({ token_endpoint: provider.token_endpoint })).toBeNull();
    expect(endpointsOf(null)).toBeNull();
    expect(originOf("https://sso.example.com:8443/realms/x")).toBe("https://sso.example.com:8443");
    expect(originOf("data:text/html,hi")).toBeUndefined();
    expect(originOf("not a url")).toBeUndefined();
  });
});
