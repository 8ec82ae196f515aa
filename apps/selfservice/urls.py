"""Self-service pages. Each module owns its routes: staff e-IDs and issuing (`eids`), patient
consents and log extract (`patient`), the patient's blocks and block requests (`patient_blocks`),
staff registering consent or emergency access (`care`), staff registering and changing blocks
(`care_blocks`), staff answering block requests (`care_block_requests`), the user's own login
sessions (`sessions`), the e-services they authorised (`eservices`), the staff member's own
account (`account`)."""

from apps.selfservice import (
    account,
    care,
    care_block_requests,
    care_blocks,
    eids,
    eservices,
    patient,
    patient_blocks,
    sessions,
)

app_name = "selfservice"
urlpatterns = [*eids.urlpatterns, *patient.urlpatterns, *care.urlpatterns,
               *care_blocks.urlpatterns, *sessions.urlpatterns, *patient_blocks.urlpatterns,
               *care_block_requests.urlpatterns, *eservices.urlpatterns, *account.urlpatterns]
