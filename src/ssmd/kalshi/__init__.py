"""The client side of Kalshi's WebSocket API v2: auth, commands, frame routing, tolerant values, L2 book."""
