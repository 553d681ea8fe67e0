"""Field types several services' payloads share."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from diko_shared.contract import rules
from diko_shared.contract.base import Payload

#: One line of text: no tab, line break or other control character (`contract.rules`). A
#: line break in a name would end up in an e-mail header or a file name.
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]*$"

OneLine = (AfterValidator(rules.one_line), Field(json_schema_extra={"pattern": ONE_LINE}))

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), *OneLine
]
#: Text of several lines: line feeds and tabs are kept, CRLF and CR become LF.
Text = Annotated[str, StringConstraints(max_length=5000), AfterValidator(rules.multi_line)]
#: An address mail can go to, checked by email-validator (no DNS) and stored normalised:
#: the domain in lower case, the part before the `@` as given (it is case-sensitive).
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(rules.email_address),
    Field(json_schema_extra={"format": "email"}),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), *OneLine]
Town = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), *OneLine
]
Postcode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
KldbCode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://\S+$")]

#: Identifiers are a prefix and 20 hex digits, e.g. `cmp_3f2a9c…`.
CompanyId = Annotated[str, StringConstraints(pattern=r"^cmp_[0-9a-f]{20}$")]
PositionId = Annotated[str, StringConstraints(pattern=r"^pos_[0-9a-f]{20}$")]
ApplicantId = Annotated[str, StringConstraints(pattern=r"^apl_[0-9a-f]{20}$")]
ProposalId = Annotated[str, StringConstraints(pattern=r"^prp_[0-9a-f]{20}$")]
StaffId = Annotated[str, StringConstraints(pattern=r"^stf_[0-9a-f]{20}$")]
PostId = Annotated[str, StringConstraints(pattern=r"^pst_[0-9a-f]{20}$")]
EpisodeId = Annotated[str, StringConstraints(pattern=r"^epi_[0-9a-f]{20}$")]

#: School-leaving certificates, lowest first: none, Hauptschul-, Realschulabschluss, Abitur.
SchoolCertificate = Literal["none", "hauptschule", "realschule", "abitur"]

PositionStatus = Literal["open", "filled", "closed"]

Places = Annotated[int, Field(ge=1, le=100)]


class Occupation(Payload):
    """An apprenticeship occupation: its KldB 2010 code (5 digits) and its name."""

    code: KldbCode
    name: Name
