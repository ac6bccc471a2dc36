"""What every service shares: logging, the health/metrics HTTP server, graceful shutdown."""
