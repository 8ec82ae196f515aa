"""Audit action codes of the blocks app (every event has the patient as subject, so it shows in
the patient's log extract, PDL 2008:355 8 kap. 3 §)."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

BLOCK_REGISTERED = register("block.registered", _("Block registered"), patient_data=True)
BLOCK_REVOKED = register("block.revoked", _("Block lifted"), patient_data=True)
BLOCK_DELETED = register("block.deleted", _("Block removed as a wrong registration"),
                         patient_data=True)
TEMPORARY_REVOKE_REGISTERED = register("block.temporary_revoke_registered",
                                       _("Block temporarily lifted"), patient_data=True)
TEMPORARY_REVOKE_CANCELLED = register("block.temporary_revoke_cancelled",
                                      _("Temporary lifting of a block ended early"),
                                      patient_data=True)
PATIENT_LOOKED_UP = register("block.patient_looked_up", _("Looked up to register or change a block"),
                             patient_data=True)
BLOCK_REQUEST_SUBMITTED = register("block_request.submitted", _("Block requested by the patient"),
                                   patient_data=True)
BLOCK_REQUEST_WITHDRAWN = register("block_request.withdrawn",
                                   _("Block request withdrawn by the patient"), patient_data=True)
BLOCK_REQUEST_CONFIRMED = register("block_request.confirmed", _("Block request confirmed"),
                                   patient_data=True)
BLOCK_REQUEST_DECLINED = register("block_request.declined", _("Block request declined"),
                                  patient_data=True)
BLOCK_LIST_VIEWED = register("block.list_viewed", _("Viewed the care provider's list of blocks"))
