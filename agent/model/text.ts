// Text that leaves the agent is bounded (condition messages, Events, log lines,
// the debug endpoint) and times are shown as ISO 8601. One spelling of each, so
// a message cut in health reads like one cut in a reporter.

/** `ms` since epoch as ISO 8601 UTC; a value that is not a time is shown as itself rather than throwing. */
export function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

/** `text` cut to at most `max` characters, the last one `…` when it was cut. */
export function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Joins parts with `sep` while they fit in `max`, then says how many were left out. */
export function joinBounded(parts: string[], sep: string, max: number): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const piece = (out === '' ? '' : sep) + parts[i];
    const rest = parts.length - i - 1;
    const tail = rest > 0 ? `${sep}+${rest} more` : '';
    if (out.length + piece.length + tail.length <= max) {
      out += piece;
      continue;
    }
    const more = `${out === '' ? '' : sep}+${parts.length - i} more`;
    return out.length + more.length <= max ? out + more : bounded(out, max);
  }
  return out;
}

/** What went wrong, as text: an Error's message, anything else thrown as itself. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
