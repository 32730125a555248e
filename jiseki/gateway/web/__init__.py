"""HTTP and WebSocket routes of the gateway (aiohttp)."""
