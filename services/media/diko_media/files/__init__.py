"""Files media takes in: audio, covers and logos, from an upload or a URL, checked before
they are kept."""
