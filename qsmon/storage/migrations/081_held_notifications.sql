-- Notifications held back (issue #36): a recovery during a silence that asks to announce them (announced when the
-- silence ends), and everything a channel's mute interval holds (nights, weekends, non-working days), sent as one
-- summary when the interval ends. notify.held moves them to the outbox then; `held_by` says what holds them:
-- 'silence:<id>' or 'mute:<interval name>'.
ALTER TABLE silences ADD COLUMN announce_recoveries boolean NOT NULL DEFAULT false;

CREATE TABLE held_notifications (
    id          bigserial PRIMARY KEY,
    alert_id    bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event_id    bigint      NOT NULL,
    channel     text        NOT NULL,
    group_key   text        NOT NULL,
    payload     jsonb       NOT NULL,
    held_by     text        NOT NULL,
    held_at     timestamptz NOT NULL,
    released_at timestamptz,
    UNIQUE (alert_id, event_id, channel)
);
CREATE INDEX held_notifications_waiting ON held_notifications (held_by) WHERE released_at IS NULL;
