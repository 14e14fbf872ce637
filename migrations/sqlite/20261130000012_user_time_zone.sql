-- The time zone an account reads times in (an IANA name); none: the browser's.
ALTER TABLE users ADD COLUMN time_zone TEXT;
