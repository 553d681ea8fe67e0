"""diko's media service: Instagram posts from layouts and the podcast feed."""
