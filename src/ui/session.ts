/**
 * Who is signed in. Kept in sessionStorage (gone with the tab) unless the user ticked "remember me", which
 * alone puts it in localStorage; every session has an expiry (a password session's is its access token's,
 * renewed with the refresh token), after which the dashboard signs out.
 */
import { signal } from "@preact/signals";
import type { Role } from "./roles.ts";

export interface Session {
  via: "api_key" | "password" | "oidc";
  token: string;
  refresh_token?: string;
  /** ms since 1970 */
  expires_at: number;
  role: Role;
  name: string;
  remember: boolean;
}

const KEY = "webencode.session";
/** How long a remembered or tab session signed in with an API key lasts before asking again. */
export const API_KEY_SESSION_MS = 12 * 3600_000;

function load(): Session | null {
  for (const store of [sessionStorage, localStorage]) {
    const text = store.getItem(KEY);
    if (!text) continue;
    try {
      const s = JSON.parse(text) as Session;
      if (typeof s.token === "string" && s.expires_at > Date.now()) return s;
    } catch {
      // A damaged entry is dropped below.
    }
    store.removeItem(KEY);
  }
  return null;
}

export const session = signal<Session | null>(load());

export function saveSession(s: Session): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  (s.remember ? localStorage : sessionStorage).setItem(KEY, JSON.stringify(s));
  session.value = s;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  session.value = null;
}

/** Signs out when the session has expired (checked before every call and on a timer). */
export function expireIfDue(now = Date.now()): void {
  const s = session.value;
  if (s && s.expires_at <= now && !s.refresh_token) signOut();
}
