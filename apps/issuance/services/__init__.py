"""Writes of activation codes and mobile e-IDs, one module per concern; each audited in the same
transaction. Limits and the lock order: `apps.issuance.rules`.

- `issue`: activation codes (self-service, issuers, the operator), and ending them
- `redeem`: the mobile app redeems a code for a certificate
- `revoke`: revoking an e-ID
- `rename`: the owner names an e-ID's device
- `notify`: telling the person by e-mail
- `authenticate`: out-of-band login with the mobile e-ID (start, approve, deny, complete)
"""

from apps.identities.documents import (
    IdentityDocument,
    identity_document_problems,
)
from apps.issuance.services.authenticate import (
    Completion,
    StartedLogin,
    mobile_eid_login_approve,
    mobile_eid_login_complete,
    mobile_eid_login_deny,
    mobile_eid_login_start,
    mobile_eid_step_up_complete,
    mobile_eid_step_up_start,
)
from apps.issuance.services.issue import IssuedCode, activation_code_issue, activation_codes_end
from apps.issuance.services.notify import eid_notify
from apps.issuance.services.redeem import (
    Activation,
    activation_code_redeem,
    activation_code_redeem_refused,
)
from apps.issuance.services.rename import eid_rename
from apps.issuance.services.revoke import eid_revoke

__all__ = [
    "Activation",
    "Completion",
    "StartedLogin",
    "IdentityDocument",
    "IssuedCode",
    "activation_code_issue",
    "activation_code_redeem",
    "activation_code_redeem_refused",
    "activation_codes_end",
    "eid_notify",
    "eid_rename",
    "eid_revoke",
    "identity_document_problems",
    "mobile_eid_login_approve",
    "mobile_eid_login_complete",
    "mobile_eid_login_deny",
    "mobile_eid_login_start",
    "mobile_eid_step_up_complete",
    "mobile_eid_step_up_start",
]
