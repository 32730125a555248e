// The viewer's reconnect and resume decision, with no I/O: given what just happened and the state of
// the connection, the next step. core/connection.js carries the steps out; tests/js/reconnect.test.mjs
// covers every case.

export const RECONNECT_DELAYS = [1, 2, 4, 8, 10]; // seconds; the last one repeats

/** Seconds to wait before attempt number `attempt` (0 = the first). */
export function delayFor(attempt) {
  return RECONNECT_DELAYS[Math.min(Math.max(attempt, 0), RECONNECT_DELAYS.length - 1)];
}

/**
 * The steps:
 *   { do: 'disconnected' }                    the user closed: say so, offer to reconnect
 *   { do: 'login' }                           the login expired: go to the login page
 *   { do: 'end', reason, refused }            a final reason: the end screen, the user decides
 *   { do: 'resume', delay, attempt, lost }    reopen the same session with its resume token after
 *                                             `delay` s; `lost`: the link broke just now (the grace
 *                                             period starts)
 *   { do: 'open' }                            the resume is due and still within the grace: open now
 *   { do: 'new', delay, attempt, drop }       request a new session after `delay` s; `drop`: the
 *                                             session kept for us is over (forget it)
 * `attempt` in a step is the attempt counter to keep from then on.
 *
 * The events and the state each needs:
 *   'refused'     { status (0 when unreachable), error, finalReasons, attempt }: POST /api/sessions
 *                 did not give a session
 *   'closed'      { userClosed, endReason, finalReasons, hasSession, opened, resuming, sinceLost,
 *                 graceMs, attempt }: the socket closed (or never opened); `opened`: this socket had
 *                 opened; `resuming`: it was a resume; `sinceLost`: ms since the link was lost
 *   'resume-due'  { sinceLost, graceMs, attempt }: the wait before a resume is over
 */
export function nextStep(event, s) {
  const again = (extra = {}) => ({ do: 'new', delay: delayFor(s.attempt), attempt: s.attempt + 1, drop: false, ...extra });
  switch (event) {
    case 'refused':
      if (s.status === 401) return { do: 'login' };
      // Reconnecting by itself after a final reason would only be refused again, or would undo
      // what the user, an administrator or a rule meant.
      if (s.error && s.finalReasons.has(s.error)) return { do: 'end', reason: s.error, refused: true };
      return again();
    case 'closed':
      if (s.userClosed) return { do: 'disconnected' };
      if (s.endReason && s.finalReasons.has(s.endReason)) return { do: 'end', reason: s.endReason, refused: false };
      if (!s.endReason && s.hasSession && s.opened) {
        // The link broke but nobody ended the session: it waits on the gateway for us.
        return { do: 'resume', delay: delayFor(0), attempt: 1, lost: true };
      }
      if (!s.endReason && s.hasSession && s.resuming && s.sinceLost < s.graceMs) {
        // The resume itself failed to connect: try again while it may work.
        return { do: 'resume', delay: delayFor(s.attempt), attempt: s.attempt + 1, lost: false };
      }
      return again();
    case 'resume-due':
      // Too late: the session is over, start a new one.
      if (s.sinceLost >= s.graceMs) return again({ drop: true });
      return { do: 'open' };
    default:
      throw new Error(`unknown event: ${event}`);
  }
}
