-- Account roles (Site Admin, Power User, User) and personal access tokens. A token is stored
-- only as a SHA-256 hash; its visible prefix lets people recognise it.
ALTER TABLE users ADD COLUMN account_role TEXT NOT NULL DEFAULT 'user'
    CHECK (account_role IN ('site_admin', 'power_user', 'user'));

CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    -- JSON array of scope names
    scopes        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens(user_id, id DESC);
