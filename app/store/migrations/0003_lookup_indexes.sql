-- Indexes for the customers screen (orders grouped per buyer), the duplicate-SKU check
-- on listings, and a product's newest-first stock history.
CREATE INDEX orders_customer ON orders(channel_id, customer_ref);
CREATE INDEX listings_channel_sku ON listings(channel_id, sku);
CREATE INDEX stock_movements_history ON stock_movements(product_id, created_at);
