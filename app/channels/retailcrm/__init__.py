"""RetailCRM (API v5), where Stockbridge is the account's warehouse system: client, mapping,
inventory upload helpers, callback receiver and the loopback sandbox twin."""
