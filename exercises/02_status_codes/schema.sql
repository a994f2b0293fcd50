-- Given: the table the users API works on (the tests create it for you).
CREATE TABLE users (
    id       bigserial PRIMARY KEY,
    username text      NOT NULL UNIQUE,
    email    text      NOT NULL
);
