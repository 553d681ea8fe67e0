"""The podcast „DIKO trifft…“: its RSS feed, its page for listeners and its cover art."""
