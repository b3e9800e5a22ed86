/**
 * What the app remembers about each request while it is served: its id (the client's `x-request-id` when valid,
 * otherwise a new one), when it started and the client's address. Set once by the app's request hook (app.ts);
 * read wherever a response, an error envelope or a log line needs them. A module of its own, so route files can
 * read the id without importing the app that mounts them.
 */
export const requestIds = new WeakMap<Request, { id: string; start: number; ip: string | null }>();

export function requestIdOf(request: Request): string {
  return requestIds.get(request)?.id ?? "unknown";
}
