"""Who may send what: the principals of the contract and how a broker user names one.

A message's sender is the RabbitMQ user of the connection it was published on (the AMQP
`user_id` property, which the broker checks against the login), never the envelope's
`source`. Each user stands for one principal:

- a diko service logs in as a user of its own name (`companies`, `matching`, ...) and is
  the only sender of the events it owns;
- `operator` is the `diko` command line of operators and staff: every command and
  query, and the replay of dead letters;
- `integrator-<name>` is another system (a website, a CRM, ...): the commands and
  queries the catalogue grants to integrators.

The catalogue records the senders of each command and query (`MessageSpec.senders`); by
default those are `operator` and integrators. A command meant for one party only (staff
deciding a proposal) names its senders where it is registered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

#: The `diko` command line: operators and staff.
OPERATOR = "operator"
#: Another system that sends commands and queries, one broker user each.
INTEGRATOR = "integrator"
#: Integrators' broker users are named `integrator-<name>`, e.g. `integrator-website`.
INTEGRATOR_PREFIX = "integrator-"
#: Who may send a command or query unless its registration says otherwise.
DEFAULT_REQUEST_SENDERS: tuple[str, ...] = (OPERATOR, INTEGRATOR)
#: Roles that are not services, with what they stand for (documents, AsyncAPI).
ROLES = {
    OPERATOR: "the diko command line of operators and staff (broker user `operator`)",
    INTEGRATOR: "another system, each with a broker user `integrator-<name>`",
}


def principal(user: str | None, services: Collection[str]) -> str | None:
    """The principal a broker user stands for, or None if it stands for none.

    `services` are the service names of the catalogue: a service's user is its name.
    """
    if not user:
        return None
    if user in services or user == OPERATOR:
        return user
    if user.startswith(INTEGRATOR_PREFIX) and len(user) > len(INTEGRATOR_PREFIX):
        return INTEGRATOR
    return None


def describe(senders: Iterable[str]) -> str:
    """Senders for people: `notifications, operator`; integrators as `integrators`."""
    names = ["integrators" if sender == INTEGRATOR else sender for sender in senders]
    return ", ".join(names)
