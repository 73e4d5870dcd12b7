"""Domain rules: orders, stock ledger arithmetic, lifecycle. No Qt, no HTTP, no SQL."""
