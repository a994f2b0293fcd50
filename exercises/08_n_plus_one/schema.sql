-- Given: the blog the N+1 kata reads (the tests create the tables and fill them for you).
CREATE TABLE authors (
    id   bigint PRIMARY KEY,
    name text   NOT NULL
);

CREATE TABLE posts (
    id        bigint PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES authors (id),
    title     text   NOT NULL
);

-- "The posts of these authors" is a lookup by author_id: index the foreign key.
CREATE INDEX posts_author_id ON posts (author_id);
