/** Who a connection belongs to, as proven by its JWT. */
export interface Identity {
  userId: string;
  tenantId: string;
  /** Display name from the `name` claim; omitted from presence when absent. */
  name?: string;
  /** The `canvases` claim when present: the only canvasIds the default access policy allows. */
  canvases?: readonly string[];
  /** The token's `exp`, epoch milliseconds. */
  expiresAt: number;
}

/** True when two identities name the same user of the same tenant. */
export function sameUser(a: Pick<Identity, 'userId' | 'tenantId'>, b: Pick<Identity, 'userId' | 'tenantId'>): boolean {
  return a.userId === b.userId && a.tenantId === b.tenantId;
}
