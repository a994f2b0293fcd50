-- Version 3: users get a display name, NOT NULL, starting out as their name.
-- Three steps, because the table already holds rows: add the column as nullable, fill it in
-- for every existing row, and only then forbid NULL (adding it NOT NULL at once would fail on
-- those rows; a DEFAULT '' would "succeed" and lose the information).
ALTER TABLE users ADD COLUMN display_name text;
UPDATE users SET display_name = name;
ALTER TABLE users ALTER COLUMN display_name SET NOT NULL;
