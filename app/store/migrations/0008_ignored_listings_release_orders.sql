-- An ignored listing without a product (gift wrapping, a shipping line) holds no stock,
-- so an order no longer waits for it. Ignoring or un-ignoring a listing therefore
-- releases or re-holds orders; the batch keeps each such order's flag before and after,
-- so undo puts the needs-mapping queue back exactly.
CREATE TABLE mapping_batch_orders (
    batch_id          INTEGER NOT NULL REFERENCES mapping_batches(id) ON DELETE CASCADE,
    order_id          INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    old_needs_mapping INTEGER NOT NULL,
    new_needs_mapping INTEGER NOT NULL,
    PRIMARY KEY (batch_id, order_id)
) WITHOUT ROWID;

-- Orders that only waited for listings already ignored leave the queue now.
UPDATE orders SET needs_mapping = 0
WHERE needs_mapping = 1 AND NOT EXISTS (
    SELECT 1 FROM order_lines ln
    WHERE ln.order_id = orders.id AND ln.product_id IS NULL AND ln.fulfil = 1
      AND ln.quantity > 0
      AND NOT EXISTS (
          SELECT 1 FROM listings li
          WHERE li.channel_id = orders.channel_id AND li.external_id = ln.listing_ref
            AND li.ignored = 1
            AND NOT EXISTS (SELECT 1 FROM product_links pl WHERE pl.listing_id = li.id)
      )
);
