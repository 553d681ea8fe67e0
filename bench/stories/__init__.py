"""bench/stories: whole stories per second through all four services."""
