/** Injection token of the resolved {@link ResolvedOpsOptions}. */
export const OPS_OPTIONS = Symbol('OPS_OPTIONS');
