/** The current location as a signal; navigate() changes it without reloading (History API). */
import { signal } from "@preact/signals";
import { parseRoute, type Route } from "./routes.ts";

export const route = signal<Route>(parseRoute(location.pathname, location.search));

export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route.value = parseRoute(location.pathname, location.search);
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => {
  route.value = parseRoute(location.pathname, location.search);
});
