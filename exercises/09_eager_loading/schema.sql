-- Given: the blog the eager-loading kata reads (the tests create the tables and fill them).
CREATE TABLE authors (
    id   bigint PRIMARY KEY,
    name text   NOT NULL
);

CREATE TABLE posts (
    id        bigint PRIMARY KEY,
    author_id bigint NOT NULL REFERENCES authors (id),
    title     text   NOT NULL
);

CREATE TABLE tags (
    id   bigint PRIMARY KEY,
    name text   NOT NULL UNIQUE
);

-- Many-to-many: a post has any number of tags, a tag is on any number of posts
-- (Django's `ManyToManyField` creates exactly this "through" table).
CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts (id),
    tag_id  bigint NOT NULL REFERENCES tags (id),
    PRIMARY KEY (post_id, tag_id)
);
CREATE INDEX post_tags_tag_id ON post_tags (tag_id);
