/** The profile model moved to core (it travels inside task parameters): src/core/profile-spec.ts. */
export * from "../core/profile-spec.ts";
