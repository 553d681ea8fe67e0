"""Data-subject rights on the platform: what a service holds about a person, its export and erasure.

Each service lists, in its own `rights.py`, every collection that can mention a person
(`holdings.Holding`): where the person's id stands, why the data is kept, and how it is
erased (deleted, or anonymised where a statute keeps the fact without the person).
`participant.Rights` does the rest the same way in every service: its part of an export,
its erasure with a confirmation, the copies outside the collections (outbox, processed
replies, due items) and the tombstones that stop a replayed old message from bringing an
erased person back. The owner of a kind of person (`contract.rights.OWNERS`) also runs
`owner.Owner`: it takes `<kind>.export` and `<kind>.erase`, collects the other services'
parts and confirmations, and keeps the export (signed, expiring links) and the proof.
"""
