-- Acknowledging (issue #36): a signed link in a robot message acknowledges the alerts it names, once. Its nonce is
-- kept here when used, so the same link is refused the second time (alerts.acklinks). The read API's `ack` scope
-- may acknowledge without a link (qsmon.tokens.Scope.ACK). Grafana's role reads none of it (009).
CREATE TABLE ack_link_uses (
    nonce     text PRIMARY KEY,
    used_at   timestamptz NOT NULL,
    used_by   text        NOT NULL,
    alert_ids bigint[]    NOT NULL
);

ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check CHECK (
    cardinality(scopes) > 0 AND scopes <@ ARRAY['ingest', 'read', 'public', 'admin', 'ack']);
