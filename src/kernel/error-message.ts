/**
 * The message of anything thrown or rejected, for a log line. Total: it never throws itself,
 * whatever was thrown (`undefined`, a string, an object with a throwing getter). Why: a catch
 * handler that reads `(err as Error).message` throws on `undefined`, and a rejection raised
 * inside a handler of a promise nobody awaits is an unhandled rejection, which ends the process.
 */
export function errorMessage(err: unknown): string {
  try {
    if (err instanceof Error) return err.message;
    if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
    return String(err);
  } catch {
    return 'unprintable error';
  }
}
