"""The podcast „DIKO trifft…“: its RSS feed and its cover art."""
