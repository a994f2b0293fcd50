-- Version 1: the users table.
CREATE TABLE users (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text   NOT NULL UNIQUE,
    name  text   NOT NULL
);
