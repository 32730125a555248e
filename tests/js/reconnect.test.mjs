// The viewer's reconnect / resume decision (core/reconnect.js), over every combination of its
// inputs (node --test): who closed, why, whether the socket had opened, whether it was a resume,
// time since the link was lost, the attempt counter.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RECONNECT_DELAYS, delayFor, nextStep } from '../../jiseki/web/static/core/reconnect.js';

const GRACE = 60_000;
const FINAL = new Set(['admin', 'idle', 'hours', 'days', 'in_use', 'logged_out', 'user', 'takeover']);
const NOT_FINAL = ['network', 'host_disconnected', 'host_offline', 'host_timeout', 'protocol_error', 'gateway_shutdown'];
const BOOLS = [false, true];
const SINCE = [0, 1, GRACE - 1, GRACE, GRACE + 1, 10 * GRACE];
const ATTEMPTS = [0, 1, 2, 3, 4, 5, 6, 20];

test('delays: 1, 2, 4, 8, then every 10 s', () => {
  assert.deepEqual(RECONNECT_DELAYS, [1, 2, 4, 8, 10]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 100].map(delayFor), [1, 2, 4, 8, 10, 10, 10, 10]);
});

function* closedStates() {
  for (const userClosed of BOOLS) {
    for (const endReason of [null, undefined, ...FINAL, ...NOT_FINAL]) {
      for (const hasSession of BOOLS) {
        for (const opened of BOOLS) {
          for (const resuming of BOOLS) {
            for (const sinceLost of SINCE) {
              for (const attempt of ATTEMPTS) {
                yield { userClosed, endReason, finalReasons: FINAL, hasSession, opened, resuming, sinceLost, graceMs: GRACE, attempt };
              }
            }
          }
        }
      }
    }
  }
}

test('closed: every combination gets the one step it should', () => {
  const seen = new Map();
  for (const s of closedStates()) {
    const step = nextStep('closed', s);
    const label = JSON.stringify({ ...s, finalReasons: undefined });
    let expected;
    if (s.userClosed) expected = { do: 'disconnected' };
    else if (s.endReason && FINAL.has(s.endReason)) expected = { do: 'end', reason: s.endReason, refused: false };
    else if (!s.endReason && s.hasSession && s.opened) expected = { do: 'resume', delay: 1, attempt: 1, lost: true };
    else if (!s.endReason && s.hasSession && s.resuming && s.sinceLost < GRACE) {
      expected = { do: 'resume', delay: delayFor(s.attempt), attempt: s.attempt + 1, lost: false };
    } else expected = { do: 'new', delay: delayFor(s.attempt), attempt: s.attempt + 1, drop: false };
    assert.deepEqual(step, expected, label);
    const key = `${step.do}${step.lost ? '/lost' : ''}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  // Every kind of step is reached by some state.
  assert.deepEqual([...seen.keys()].sort(), ['disconnected', 'end', 'new', 'resume', 'resume/lost']);
});

test('closed: what the user, an administrator or a rule did is never undone by itself', () => {
  for (const s of closedStates()) {
    const step = nextStep('closed', s);
    if (s.userClosed) assert.equal(step.do, 'disconnected');
    if (!s.userClosed && FINAL.has(s.endReason)) assert.equal(step.do, 'end');
    // Only a link lost without any end reason resumes: an ended session is over on the gateway.
    if (step.do === 'resume') assert.ok(!s.endReason && s.hasSession);
  }
});

test('closed: a non-final end (offline PC, gateway restart) starts a new session with the growing delay', () => {
  for (const endReason of NOT_FINAL) {
    for (const attempt of ATTEMPTS) {
      const step = nextStep('closed', {
        userClosed: false, endReason, finalReasons: FINAL, hasSession: true, opened: true, resuming: false,
        sinceLost: 0, graceMs: GRACE, attempt,
      });
      assert.deepEqual(step, { do: 'new', delay: delayFor(attempt), attempt: attempt + 1, drop: false });
    }
  }
});

test('refused: 401 goes to the login page, a final reason to the end screen, anything else is retried', () => {
  for (const attempt of ATTEMPTS) {
    const base = { finalReasons: FINAL, attempt };
    for (const error of [undefined, null, 'admin', 'network']) {
      assert.deepEqual(nextStep('refused', { ...base, status: 401, error }), { do: 'login' });
    }
    for (const status of [400, 403, 409, 429, 503]) {
      for (const error of FINAL) {
        assert.deepEqual(nextStep('refused', { ...base, status, error }), { do: 'end', reason: error, refused: true });
      }
      for (const error of [...NOT_FINAL, undefined, null, 'something_new']) {
        assert.deepEqual(
          nextStep('refused', { ...base, status, error }),
          { do: 'new', delay: delayFor(attempt), attempt: attempt + 1, drop: false },
        );
      }
    }
    // The gateway could not be reached (or answered no JSON).
    assert.deepEqual(nextStep('refused', { ...base, status: 0 }), { do: 'new', delay: delayFor(attempt), attempt: attempt + 1, drop: false });
  }
});

test('resume-due: open within the grace, else forget the session and start a new one', () => {
  for (const attempt of ATTEMPTS) {
    for (const sinceLost of SINCE) {
      const step = nextStep('resume-due', { sinceLost, graceMs: GRACE, attempt });
      if (sinceLost < GRACE) assert.deepEqual(step, { do: 'open' });
      else assert.deepEqual(step, { do: 'new', delay: delayFor(attempt), attempt: attempt + 1, drop: true });
    }
  }
});

test('a lost link is resumed at 1, 3, 7, 15, 25, 35, 45, 55 s, then a new session is asked for', () => {
  // Walk the decisions with every resume failing to connect, as during a long network outage.
  let t = 0;
  let lostAt = 0;
  let attempt = 0;
  const opens = [];
  let step = nextStep('closed', {
    userClosed: false, endReason: null, finalReasons: FINAL, hasSession: true, opened: true, resuming: false,
    sinceLost: 0, graceMs: GRACE, attempt,
  });
  for (;;) {
    assert.equal(step.do, 'resume');
    if (step.lost) lostAt = t;
    attempt = step.attempt;
    t += step.delay * 1000;
    const due = nextStep('resume-due', { sinceLost: t - lostAt, graceMs: GRACE, attempt });
    if (due.do === 'new') {
      assert.deepEqual(due, { do: 'new', delay: 10, attempt: attempt + 1, drop: true });
      break;
    }
    opens.push(t / 1000);
    step = nextStep('closed', {
      userClosed: false, endReason: null, finalReasons: FINAL, hasSession: true, opened: false, resuming: true,
      sinceLost: t - lostAt, graceMs: GRACE, attempt,
    });
  }
  assert.deepEqual(opens, [1, 3, 7, 15, 25, 35, 45, 55]);
  assert.equal(t, 65_000);
});

test('an unknown event is a programming error', () => {
  assert.throws(() => nextStep('opened', {}), /unknown event/);
});
