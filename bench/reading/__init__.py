"""What reading a message costs: validation before and after tolerant events and versions."""
