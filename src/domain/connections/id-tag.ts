/**
 * A 15-bit fingerprint of an id string (FNV-1a over its UTF-16 code units, folded to 15 bits).
 *
 * Why: a broadcast skips the connections its `except` names (the sender's connection id or
 * session id, see RoomDelivery.deliver). Comparing those strings per recipient reads two string
 * objects per recipient, each its own heap object and, in a room of 100, mostly its own cache
 * miss: in the 5 Hz fan-out profile (issue 15) the string checks were a tenth of the loop. A
 * connection keeps the fingerprints of both ids in one small integer ({@link idTags}); the loop
 * compares numbers and reads the strings only when a fingerprint matches (the named connections,
 * plus about 2 in 32,768 others by chance, which the string compare then rejects). The result is
 * exactly the string comparison's; only its cost changes.
 */
const TAG_BITS = 15;
const TAG_MASK = (1 << TAG_BITS) - 1;

/** The fingerprint of one id: an integer in [0, 32767]. */
export function idTag(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash ^ (hash >>> TAG_BITS) ^ (hash >>> (2 * TAG_BITS))) & TAG_MASK;
}

/** Both fingerprints of a connection in one small integer (30 bits: a V8 Smi, stored inline). */
export function idTags(connectionId: string, sessionId: string): number {
  return idTag(connectionId) | (idTag(sessionId) << TAG_BITS);
}

/** Whether `tag` (see {@link idTag}) is the fingerprint of either id packed in `tags` (see {@link idTags}). */
export function tagsInclude(tags: number, tag: number): boolean {
  return (tags & TAG_MASK) === tag || tags >>> TAG_BITS === tag;
}
