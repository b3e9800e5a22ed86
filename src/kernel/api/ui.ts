/**
 * The web dashboard at `/` (docs/ui/README.md): index.html for `/` and for the dashboard's own client routes
 * (listed here, so nothing else — /v1, /swagger, /metrics, an unknown path — is ever answered with the page),
 * and its hashed files under /ui/assets with a year-long immutable cache, brotli or gzip as the client
 * accepts. The page runs under a Content-Security-Policy without inline scripts: it talks only to this origin
 * (and to the OIDC provider's, when one is configured for sign-in).
 */
import { Elysia } from "elysia";
import { AppError } from "../../core/errors.ts";
import { bundleUi, embeddedBundle, pickEncoding, UI_ASSET_PREFIX, type UiAsset, type UiBundle } from "./ui-bundle.ts";

/** The dashboard's client routes (src/ui/routes.ts CLIENT_PATHS; test/unit/ui-routes.test.ts keeps them equal). */
export const UI_PAGE_PATHS = ["/", "/sign-in", "/jobs", "/jobs/new", "/jobs/:id", "/workers", "/streams", "/profiles", "/plugins", "/webhooks", "/api-keys", "/users", "/audit"] as const;

/** The page's policy; `signInOrigins` (the OIDC provider's, when configured) may be fetched and submitted to (pure). */
export function uiCsp(signInOrigins: readonly string[] = []): string {
  const extra = signInOrigins.map((origin) => ` ${origin}`).join("");
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    `connect-src 'self'${extra}`,
    "object-src 'none'",
    "base-uri 'none'",
    `form-action 'self'${extra}`,
    "frame-ancestors 'none'",
  ].join("; ");
}

export const UI_CSP = uiCsp();

let loading: Promise<UiBundle> | undefined;

/** The compiled kernel's embedded bundle; from source, src/ui/ bundled once on first use. */
function uiBundle(): Promise<UiBundle> {
  loading ??= embeddedBundle().then((embedded) => embedded ?? bundleUi({ brotliQuality: 1 }));
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

function send(asset: UiAsset, request: Request, headers: Record<string, string>): Response {
  const encoding = pickEncoding(request.headers.get("accept-encoding"));
  const body = encoding === "br" ? asset.brotli : encoding === "gzip" ? asset.gzip : asset.body;
  const encodingHeaders: Record<string, string> = encoding ? { "content-encoding": encoding } : {};
  return new Response(body, { headers: { "content-type": asset.type, vary: "accept-encoding", "x-content-type-options": "nosniff", ...encodingHeaders, ...headers } });
}

function pageHandler(signInOrigins: () => Promise<string[]>) {
  return async ({ request }: { request: Request }): Promise<Response> => {
    const [bundle, origins] = await Promise.all([uiBundle(), signInOrigins()]);
    // Never cached: a new release's page names new asset files.
    return send(bundle.index, request, { "cache-control": "no-cache", "content-security-policy": uiCsp(origins), "referrer-policy": "same-origin", "x-frame-options": "DENY" });
  };
}

async function assetFile({ params, request }: { params: { name: string }; request: Request }): Promise<Response> {
  const bundle = await uiBundle();
  const asset = bundle.assets.get(params.name);
  if (!asset) throw new AppError("WE-REQ-002", `no dashboard file named ${params.name} (the page may be from an older release: reload it)`);
  return send(asset, request, { "cache-control": "public, max-age=31536000, immutable" });
}

/** `signInOrigins`: the OIDC provider's origins the page may reach (ui-oidc.ts); none without a provider. */
export function uiRoutes(signInOrigins: () => Promise<string[]> = async () => []) {
  const page = pageHandler(signInOrigins);
  const app = new Elysia().get(`${UI_ASSET_PREFIX}/:name`, assetFile, { detail: { hide: true } });
  for (const path of UI_PAGE_PATHS) app.get(path, page, { detail: { hide: true } });
  return app;
}
