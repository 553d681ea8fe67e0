"""Drawing: the brand, layouts as data, and the Pillow renderer."""
