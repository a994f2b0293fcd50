-- Version 2: posts, each written by one user; deleting the user deletes their posts.
CREATE TABLE posts (
    id        bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title     text    NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    published boolean NOT NULL DEFAULT false
);
