"""MongoDB access: one database per service, writes batched by a group committer."""
