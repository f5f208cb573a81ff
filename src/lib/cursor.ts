import { badInput } from "../domain/errors.js";

/** Longest cursor this API hands out: a short prefix and a 128-character id, in base64url. */
const MAX_CURSOR_LENGTH = 256;

/**
 * Opaque cursors for keyset pagination: base64url of `<kind>:<key>`, holding the last key
 * seen, so pages stay stable while items come and go. A cursor of another kind, or one
 * this API did not hand out, is refused as a bad `after`.
 */
export function cursorCodec(kind: string) {
  const prefix = `${kind}:`;
  return {
    encode(key: string): string {
      return Buffer.from(`${prefix}${key}`).toString("base64url");
    },
    decode(cursor: string): string {
      if (cursor.length > MAX_CURSOR_LENGTH)
        throw badInput("after", "is not a cursor returned by this API");
      const decoded = Buffer.from(cursor, "base64url").toString();
      if (!decoded.startsWith(prefix) || decoded.length === prefix.length) {
        throw badInput("after", "is not a cursor returned by this API");
      }
      return decoded.slice(prefix.length);
    },
  };
}
