"""Instagram posts: their layouts and their German captions."""
