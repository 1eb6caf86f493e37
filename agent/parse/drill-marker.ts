// A drill is a test record that user space writes to /dev/kmsg. It always starts
// with this tag (the syslog identifier position, where a driver message never
// starts) and carries a visible [DRILL] marker in the body for humans. Real
// driver records come with facility 0, which user space cannot forge, so a
// drill is recognised only on non-kernel facilities (or, in log files, by the tag).

export const DRILL_TAG = 'gpu-health-agent-drill';
export const DRILL_MARKER = '[DRILL]';

/** True when a message (prefix stripped) or a syslog identifier is the drill tag. */
export function isDrillText(message: string, ident?: string | null): boolean {
  if (ident != null && (ident === DRILL_TAG || ident.startsWith(DRILL_TAG + '['))) return true;
  return message.startsWith(DRILL_TAG + ':') || message.startsWith(DRILL_TAG + '[');
}
