"""Publishing on Instagram through the Graph API, and a double of it for tests and
`make run`."""
