/** Injection token of the resolved {@link ResolvedConnectionManagerOptions}. */
export const CONNECTION_MANAGER_OPTIONS = Symbol('CONNECTION_MANAGER_OPTIONS');
/** A unique id of this process among the instances of one deployment (used in cluster mode). */
export const INSTANCE_ID = Symbol('INSTANCE_ID');
