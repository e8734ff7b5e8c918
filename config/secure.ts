// What a `secure:` value of a stack file reads as without the Pulumi CLI (nothing else can decrypt it).
export const SECURE_PLACEHOLDER = "offline-plan-placeholder-secret";
