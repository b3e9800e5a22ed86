/**
 * Replies sealed to the requester: the requester sends the public half of a fresh X25519 key pair with its
 * request; the responder derives a key with its own fresh pair (ECDH, then HKDF-SHA256) and encrypts the reply
 * with AES-256-GCM. Only the holder of the requester's private key, which never leaves its process, can read
 * the reply — not a bus client that sees the reply subject (e.g. a monitoring user subscribed to `>`).
 *
 * What it does not do: decide who may ask. Anyone who can send the request gets a reply sealed to their own
 * key; that is settled by the bus's authentication (docs/security.md "Plugin settings on the bus").
 * WebCrypto only (X25519, HKDF, AES-GCM).
 */
export interface SealedReply {
  v: 1;
  /** The responder's ephemeral X25519 public key (raw, base64url). */
  epk: string;
  iv: string;
  ct: string;
}

const INFO = new TextEncoder().encode("webencode sealed reply v1");
const b64 = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString("base64url");
const unb64 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(s, "base64url"));

async function newPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as unknown as CryptoKeyPair;
}

/** A raw X25519 public key in base64url, or an error message. Pure. */
export function replyKeyProblem(key: unknown): string | undefined {
  if (typeof key !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(key)) return "reply_key must be a raw X25519 public key (32 bytes, base64url)";
  return undefined;
}

async function aesKey(own: CryptoKey, peerRaw: Uint8Array<ArrayBuffer>, salt: Uint8Array<ArrayBuffer>, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  const peer = await crypto.subtle.importKey("raw", peerRaw, { name: "X25519" }, false, []);
  const shared = await crypto.subtle.deriveBits({ name: "X25519", public: peer }, own, 256);
  const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt, info: INFO }, hkdf, { name: "AES-GCM", length: 256 }, false, [usage]);
}

/** Both public keys salt the derivation, so a reply is bound to the one request it answers. */
const saltOf = (requester: Uint8Array, responder: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array([...requester, ...responder]);

/** Responder side: `value` as JSON, sealed to `replyKey` (the requester's public key). */
export async function sealReply(replyKey: string, value: unknown): Promise<SealedReply> {
  const problem = replyKeyProblem(replyKey);
  if (problem) throw new Error(problem);
  const requester = unb64(replyKey);
  const pair = await newPair();
  const epk = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const key = await aesKey(pair.privateKey, requester, saltOf(requester, epk), "encrypt");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(JSON.stringify(value)));
  return { v: 1, epk: b64(epk), iv: b64(iv), ct: b64(ct) };
}

/** Requester side: a fresh key pair for one request; `publicKey` goes into the request, `open` reads the reply. */
export async function replyKeyPair(): Promise<{ publicKey: string; open<T>(sealed: unknown): Promise<T> }> {
  const pair = await newPair();
  const own = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return {
    publicKey: b64(own),
    async open<T>(sealed: unknown): Promise<T> {
      const s = sealed as Partial<SealedReply> | null;
      if (!s || s.v !== 1 || typeof s.epk !== "string" || typeof s.iv !== "string" || typeof s.ct !== "string") throw new Error("the reply is not a sealed reply (v1)");
      const epk = unb64(s.epk);
      const key = await aesKey(pair.privateKey, epk, saltOf(own, epk), "decrypt");
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(s.iv) }, key, unb64(s.ct));
      return JSON.parse(new TextDecoder().decode(plain)) as T;
    },
  };
}
