CREATE TABLE articles (
    id           bigserial   PRIMARY KEY,
    title        text        NOT NULL,
    author       text        NOT NULL,
    body         text        NOT NULL,
    published_at timestamptz NOT NULL
);
