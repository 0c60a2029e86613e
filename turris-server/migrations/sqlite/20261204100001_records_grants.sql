-- Records became a permission area (`records:read`, `create`, `update`, `delete`). Before, any
-- token of an organization could use the records API, so every existing role keeps that access;
-- roles created from now on get only what they are given.
UPDATE roles
SET grants = CASE
    WHEN grants = '[]' THEN '["records:create","records:delete","records:read","records:update"]'
    ELSE substr(grants, 1, length(grants) - 1)
        || ',"records:create","records:delete","records:read","records:update"]'
END
WHERE grants NOT LIKE '%"records:%';
