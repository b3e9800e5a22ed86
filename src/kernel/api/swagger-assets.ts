/**
 * Swagger UI's assets served by the kernel itself, embedded in the compiled binary, so /swagger renders on
 * a host with no internet access (the openapi plugin's default points at a CDN).
 */
import { Elysia } from "elysia";
import { AppError } from "../../core/errors.ts";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import css from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

export const SWAGGER_ASSET_PREFIX = "/swagger/assets";

const ASSETS: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: bundle, type: "application/javascript; charset=utf-8" },
  "swagger-ui.css": { path: css, type: "text/css; charset=utf-8" },
};

export function swaggerAssetRoutes() {
  return new Elysia().get(
    `${SWAGGER_ASSET_PREFIX}/:name`,
    ({ params }) => {
      // Own keys only: `__proto__`, `constructor`, `toString` are inherited members of a plain object, not assets.
      const asset = Object.hasOwn(ASSETS, params.name) ? ASSETS[params.name] : undefined;
      if (!asset) throw new AppError("WE-REQ-002", `no Swagger UI asset named ${params.name}`);
      return new Response(Bun.file(asset.path), { headers: { "content-type": asset.type, "cache-control": "public, max-age=86400" } });
    },
    { detail: { hide: true } },
  );
}
