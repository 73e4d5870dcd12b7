-- What a channel sent for each order, kept apart from the order row: the payload is
-- thousands of bytes (Selldone sends every item with its product brief) and the order
-- lists, filters and counts only need the narrow columns. One row per order, written in
-- the same transaction as the order; existing payloads move here unchanged.
CREATE TABLE order_payloads (
    order_id INTEGER PRIMARY KEY REFERENCES orders(id) ON DELETE CASCADE,
    body     BLOB NOT NULL -- see app/store/payloads.py: a pickle, or JSON text
);
INSERT INTO order_payloads (order_id, body) SELECT id, raw FROM orders WHERE raw <> '{}';
ALTER TABLE orders DROP COLUMN raw;

-- Every ledger query by product is served by stock_movements_history (product_id,
-- created_at); the older (product_id, warehouse_id) index only cost each movement a
-- write.
DROP INDEX IF EXISTS stock_movements_product;

-- The Customers screen groups every order by buyer: with every column it reads in the
-- index, the grouping reads the index alone instead of visiting 100,000 orders.
DROP INDEX IF EXISTS orders_customer;
CREATE INDEX orders_customer ON orders (
    channel_id, customer_ref, placed_at, imported_at, total, currency, customer_name,
    customer_email, external_id
);
