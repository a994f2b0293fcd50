-- Given: the table the notes API works on (the tests create it and seed it for you).
CREATE TABLE notes (
    id         bigserial   PRIMARY KEY,
    title      text        NOT NULL,
    body       text,
    tags       text[]      NOT NULL DEFAULT '{}',
    meta       jsonb       NOT NULL DEFAULT '{}',
    -- Read-only for clients: the server bumps it on every write; the ETag is "<version>".
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now()
);
