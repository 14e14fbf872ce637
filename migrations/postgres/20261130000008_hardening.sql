-- Security hardening. Sign-in attempts are counted before the password is checked, and an
-- account is refused until its window ends rather than locked separately.
ALTER TABLE login_throttle RENAME COLUMN failures TO attempts;
ALTER TABLE login_throttle DROP COLUMN locked_until;
-- Rows of old windows are pruned.
CREATE INDEX login_throttle_window ON login_throttle(window_start);
