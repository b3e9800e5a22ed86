/** S3 / network failures → catalogue codes (WE-STO-001…004). */
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import { showKey } from "../../src/plugin-runtime/shared/storage-keys.ts";

export const PLUGIN = "storage-s3";

const NOT_FOUND = new Set(["NoSuchKey", "NotFound", "NoSuchUpload"]);
const DENIED = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden", "ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem", "CredentialsProviderError"]);
const FULL = new Set(["XMinioStorageFull", "InsufficientStorage", "QuotaExceeded"]);
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ConnectionRefused", "ECONNABORTED"]);

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The catalogue error for an SDK failure during `op` on `key` (already a PluginError: unchanged). */
export function s3Error(error: unknown, op: string, key?: string): PluginError | Error {
  if (error instanceof PluginError) return error;
  const err = (error ?? {}) as SdkError;
  if ((error as Error)?.name === "AbortError") return error as Error;
  const name = err.name ?? err.Code ?? "Error";
  const code = err.code ?? err.Code;
  const status = err.$metadata?.httpStatusCode;
  const what = key !== undefined ? `${op} ${showKey(key)}` : op;
  const details = { ...(key !== undefined ? { key } : {}), s3_error: name, ...(status ? { http_status: status } : {}) };
  const text = `${PLUGIN}: ${what} failed: ${name}${err.message && err.message !== name ? `: ${err.message}` : ""}`;
  if (name === "NoSuchBucket") return new PluginError("WE-STO-004", `${PLUGIN}: ${what} failed: the bucket does not exist (NoSuchBucket)`, details);
  if (NOT_FOUND.has(name) || status === 404) return new PluginError("WE-STO-001", `${PLUGIN}: object ${showKey(key ?? "")} not found`, details);
  if (DENIED.has(name) || status === 403 || status === 401) return new PluginError("WE-STO-002", text, details);
  if (FULL.has(name) || status === 507) return new PluginError("WE-STO-003", text, details);
  if ((code && NETWORK.has(code)) || NETWORK.has(name) || name === "TimeoutError" || status === undefined) {
    return new PluginError("WE-STO-004", `${PLUGIN}: ${what} failed: storage unreachable (${code ?? name}${err.message ? `: ${err.message}` : ""})`, details);
  }
  return new PluginError("WE-STO-004", text, details);
}
