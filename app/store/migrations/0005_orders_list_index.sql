-- The orders list opens newest first: this index serves its first page at once on a
-- large order book instead of sorting every order.
CREATE INDEX orders_newest ON orders(COALESCE(placed_at, imported_at) DESC, id DESC);
