/**
 * Stream keys: `wsk_` + 40 random base62 characters. Like API keys, only a SHA-256 is stored (a key this
 * random gains nothing from a slow hash, and the RTMP server looks it up with one indexed query per publish);
 * the key is returned on create and on rotate, never again.
 */
import { generateApiKey, hashApiKey } from "../auth/api-keys.ts";

export const STREAM_KEY_PREFIX = "wsk_";

export function generateStreamKey(): string {
  return STREAM_KEY_PREFIX + generateApiKey().slice(3);
}

export const hashStreamKey = hashApiKey;

/** What lists show so an operator can tell which key OBS holds: "wsk_" and 6 characters. */
export function streamKeyPrefix(key: string): string {
  return key.slice(0, STREAM_KEY_PREFIX.length + 6);
}
