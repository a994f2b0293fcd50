-- Given: the table the repository works on (the tests create it for you).
CREATE TABLE users (
    id    bigserial PRIMARY KEY,
    -- UNIQUE builds an index named users_email_key; a second row with the same email fails
    -- with SQLSTATE 23505 (unique_violation).
    email text      NOT NULL UNIQUE,
    -- Not unique: many users share a name, which is what makes paging by name tricky.
    name  text      NOT NULL
);
