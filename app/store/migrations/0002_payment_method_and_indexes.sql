-- How the buyer pays (decides whether the merchant may mark an order paid on the channel),
-- and indexes for the dashboard and status queries on large order books.
ALTER TABLE orders ADD COLUMN payment_method TEXT NOT NULL DEFAULT '';

DROP INDEX IF EXISTS orders_placed;
CREATE INDEX orders_placed_channel ON orders(placed_at, channel_id, imported_at);
DROP INDEX IF EXISTS orders_status;
CREATE INDEX orders_status_mapping ON orders(status, needs_mapping);
CREATE INDEX orders_held_by_channel ON orders(channel_id) WHERE needs_mapping = 1;
