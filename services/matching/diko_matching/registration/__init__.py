"""The website's registration form „Ich suche eine Ausbildung“, served by matching.

A plain HTML form (no script) on matching's HTTP side: protected by a signed token bound
to a cookie (CSRF), a rate limit per client address and a honeypot field; checked with
the contract's own rules and German texts; sent as `applicant.register` through the
broker, idempotent per form. The applicant stays held until they open the signed link
matching mails through notifications (double opt-in): `confirming.py`.
"""
