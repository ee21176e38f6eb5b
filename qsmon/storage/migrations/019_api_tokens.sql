-- Tokens of the HTTP APIs (issue #18): stored as SHA-256 of the token (a random 256-bit secret, so a hash suffices;
-- the token itself is shown once, by `qsmon tokens create`), with scopes and a per-token rate limit. Python
-- counterpart: qsmon.tokens. Grafana's role reads none of it.
CREATE TABLE api_tokens (
    id              bigserial PRIMARY KEY,
    name            text        NOT NULL,
    token_hash      bytea       NOT NULL UNIQUE,
    scopes          text[]      NOT NULL CHECK (cardinality(scopes) > 0
                                                AND scopes <@ ARRAY['ingest', 'read', 'public', 'admin']),
    rate_per_minute integer     NOT NULL CHECK (rate_per_minute > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

-- 000000 (the nation: a plan without a region, the read API without one) covers every code; before, it covered
-- none ('00%'). qsmon.regions.like_pattern is the same rule (tests/integration/test_rules_agree.py).
CREATE OR REPLACE FUNCTION region_pattern(code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN code = '000000' THEN '%'
                WHEN code LIKE '%0000' THEN left(code, 2) || '%'
                WHEN code LIKE '%00' THEN left(code, 4) || '%'
                ELSE code END
$$;
