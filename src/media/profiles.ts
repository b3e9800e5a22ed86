/**
 * Encoding profiles: the typed model a job's rendition is built from and its validation
 * (profile-spec.ts), the built-in profiles and ladders (profiles-builtin.ts), and the encoder choice for
 * a worker's hardware (encoder-choice.ts). Gathered here so callers import profiles from one place.
 */
export * from "./encoder-choice.ts";
export * from "./profile-spec.ts";
export * from "./profiles-builtin.ts";
